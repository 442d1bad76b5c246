namespace AutoSignOut.IdentityServer.Duende;

/// <summary>
/// Sets the <c>reason</c> of the logout tokens that revocations in a block of code send, for example
/// <c>using (AutoSignOutRevocationReason.Use(RevocationReasons.PasswordChanged)) await grants.RemoveAllGrantsAsync(sub);</c>.
/// Without it, grant removals send <see cref="RevocationReasons.TokenRevoked"/>, logout <see cref="RevocationReasons.Logout"/>,
/// session expiry <see cref="RevocationReasons.SessionEnded"/> and session removal <see cref="RevocationReasons.AdminRevoked"/>.
/// </summary>
public static class AutoSignOutRevocationReason
{
    private static readonly AsyncLocal<string?> Ambient = new();

    /// <summary>The reason set by the innermost <see cref="Use"/> of the current flow, or <see langword="null"/>.</summary>
    public static string? Current => Ambient.Value;

    /// <summary>Uses <paramref name="reason"/> for revocations until the returned object is disposed.</summary>
    /// <param name="reason">The reason; one of <see cref="RevocationReasons"/> or the application's own word.</param>
    /// <returns>Restores the previous reason when disposed.</returns>
    public static IDisposable Use(string reason)
    {
        ArgumentException.ThrowIfNullOrEmpty(reason);
        var previous = Ambient.Value;
        Ambient.Value = reason;
        return new Restore(previous);
    }

    private sealed class Restore(string? previous) : IDisposable
    {
        public void Dispose() => Ambient.Value = previous;
    }
}
