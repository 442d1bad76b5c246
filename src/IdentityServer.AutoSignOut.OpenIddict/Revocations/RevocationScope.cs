namespace AutoSignOut.IdentityServer.OpenIddict;

/// <summary>
/// Sets the <c>reason</c> of the logout tokens caused by OpenIddict manager calls made inside it, for example an admin
/// page revoking a client's grants: <c>using (AutoSignOutRevocationReason.Use(RevocationReasons.AdminRevoked)) { … }</c>.
/// Without it, manager revocations carry <see cref="RevocationReasons.TokenRevoked"/>.
/// </summary>
public static class AutoSignOutRevocationReason
{
    /// <summary>Uses <paramref name="reason"/> for the revocations started until the returned scope is disposed.</summary>
    /// <param name="reason">The reason, e.g. one of <see cref="RevocationReasons"/>.</param>
    /// <returns>The scope; dispose it to restore the previous reason.</returns>
    public static IDisposable Use(string reason)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        return RevocationScope.Enter(RevocationScope.Current with { Reason = reason });
    }
}

/// <summary>
/// The ambient state of a revocation in progress: its reason, whether manager calls inside it are the binding's own
/// (already notified) work, and the scoped services of the unit of work it runs in.
/// </summary>
internal sealed record RevocationScope(string? Reason, bool Suppressed, IServiceProvider? Services)
{
    private static readonly AsyncLocal<RevocationScope?> Ambient = new();

    public static RevocationScope Current => Ambient.Value ?? new RevocationScope(null, false, null);

    public static IDisposable Enter(RevocationScope scope)
    {
        var previous = Ambient.Value;
        Ambient.Value = scope;
        return new Exit(previous);
    }

    private sealed class Exit(RevocationScope? previous) : IDisposable
    {
        public void Dispose() => Ambient.Value = previous;
    }
}
