namespace AutoSignOut.IdentityServer.OpenIddict;

/// <summary>
/// Runs a revocation at the IdP and stores the logout notifications it causes. The default writer hands the
/// revocations to <see cref="IAutoSignOutServer.RevokeAsync"/> once the revocation has happened; the EF Core writer
/// (<c>UseEntityFrameworkCore&lt;TContext&gt;()</c>) stores them in the same database transaction as OpenIddict's
/// writes, so that a rollback sends nothing and a commit loses nothing. Registered as a scoped service.
/// </summary>
public interface IAutoSignOutRevocationWriter
{
    /// <summary>Runs <paramref name="revoke"/> and stores notifications for the revocations it returns.</summary>
    /// <typeparam name="TResult">What <paramref name="revoke"/> returns to its caller.</typeparam>
    /// <param name="revoke">Revokes, and says what was revoked.</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    /// <returns>The result of <paramref name="revoke"/>.</returns>
    Task<TResult> RevokeAsync<TResult>(Func<CancellationToken, Task<RevocationOutcome<TResult>>> revoke, CancellationToken cancellationToken);
}

/// <summary>What a revocation at the IdP did: its result for the caller and the revocations to notify clients of.</summary>
/// <typeparam name="TResult">The caller's result.</typeparam>
/// <param name="Result">The caller's result.</param>
/// <param name="Revocations">The revocations to notify clients of; empty when nothing live was revoked.</param>
public readonly record struct RevocationOutcome<TResult>(TResult Result, IReadOnlyList<Revocation> Revocations);
