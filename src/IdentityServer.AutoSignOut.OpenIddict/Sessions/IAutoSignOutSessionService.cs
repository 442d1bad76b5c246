namespace AutoSignOut.IdentityServer.OpenIddict;

/// <summary>
/// What an IdP's own code calls to end sessions: "sign out everywhere" after a password change, an admin ending a
/// user's sessions, a custom logout. Each call ends the IdP sessions (their cookies are refused from then on), revokes
/// their OpenIddict grants (unless <see cref="AutoSignOutOpenIddictOptions.EndingSessionRevokesTokens"/> is off) and
/// notifies every client that took part, without waiting for any client. Registered as a scoped service.
/// </summary>
public interface IAutoSignOutSessionService
{
    /// <summary>
    /// Ends every active session of <paramref name="subject"/> and revokes all its grants; every client it signed in to
    /// is notified. A subject without sessions or grants sends nothing.
    /// </summary>
    /// <param name="subject">The user (<c>sub</c>).</param>
    /// <param name="reason">The reason in the logout tokens; default <see cref="RevocationReasons.SignOutEverywhere"/>.</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    /// <returns>The number of revocations notified (one per session, plus one per client holding grants outside a session).</returns>
    Task<int> SignOutEverywhereAsync(string subject, string reason = RevocationReasons.SignOutEverywhere, CancellationToken cancellationToken = default);

    /// <summary>Ends one session and notifies its clients; <see langword="false"/> when it was unknown or had ended already.</summary>
    /// <param name="sessionId">The session id (<c>sid</c>).</param>
    /// <param name="reason">The reason in the logout tokens; default <see cref="RevocationReasons.Logout"/>.</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    Task<bool> EndSessionAsync(string sessionId, string reason = RevocationReasons.Logout, CancellationToken cancellationToken = default);

    /// <summary>Lists the active sessions of <paramref name="subject"/>.</summary>
    /// <param name="subject">The user (<c>sub</c>).</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    Task<IReadOnlyList<IdentitySession>> GetSessionsAsync(string subject, CancellationToken cancellationToken = default);
}
