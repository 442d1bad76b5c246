namespace AutoSignOut.IdentityServer.Duende;

/// <summary>
/// Settings of the Duende IdentityServer binding. Validated when the host starts. The engine's own settings (retries,
/// timeouts, outbox) stay in <see cref="AutoSignOutServerOptions"/>.
/// </summary>
public sealed class AutoSignOutDuendeOptions
{
    /// <summary>
    /// The logout tokens' <c>iss</c>, when it must differ from IdentityServer's; an absolute URI, written exactly as the
    /// discovery document's <c>issuer</c>. Default: <see langword="null"/> — IdentityServer's <c>IssuerUri</c> when set,
    /// else the issuer IdentityServer computes for the request that caused the revocation.
    /// </summary>
    public string? Issuer { get; set; }

    /// <summary>
    /// Whether the clients registered in memory (<c>AddInMemoryClients</c>) are checked at start, so that a
    /// <c>BackChannelLogoutUri</c> that is not an absolute http(s) URI is reported before anyone signs out (clients from a
    /// store are reported when first loaded). The client is skipped either way; nobody else's logout fails. Default:
    /// <see langword="true"/>.
    /// </summary>
    public bool CheckClientsAtStart { get; set; } = true;

    /// <summary>
    /// How long the binding keeps trying to store the logout notifications of a revocation that IdentityServer has
    /// already written, when storing them failed at the time (the outbox's database briefly unreachable). They are
    /// tried again in the background with growing delays (1 s doubling to 30 s); every failure is logged and counted,
    /// and giving up is logged as an error. Not used for writes in IdentityServer's own transaction
    /// (<c>AddAutoSignOutOperationalStoreTransaction</c>), which fail with it. Default: 10 minutes.
    /// </summary>
    public TimeSpan NotificationRetryWindow { get; set; } = TimeSpan.FromMinutes(10);
}
