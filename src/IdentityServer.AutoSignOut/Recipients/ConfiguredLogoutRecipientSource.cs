using Microsoft.Extensions.Options;

namespace AutoSignOut.IdentityServer;

/// <summary>
/// A recipient source that knows clients only from <see cref="AutoSignOutServerOptions.Clients"/>: every revocation
/// goes to every configured client (or to those named by <see cref="Revocation.ClientIds"/>). For tests, simple
/// hosts and IdPs without a client store; bindings replace it with one that knows sessions and grants.
/// </summary>
public sealed class ConfiguredLogoutRecipientSource : ILogoutRecipientSource
{
    private readonly IOptionsMonitor<AutoSignOutServerOptions> _options;

    /// <summary>Creates the source over the configured clients.</summary>
    /// <param name="options">The engine options holding the clients.</param>
    public ConfiguredLogoutRecipientSource(IOptionsMonitor<AutoSignOutServerOptions> options) => _options = options;

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<LogoutRecipient>> GetRecipientsAsync(Revocation revocation, CancellationToken cancellationToken)
        => ValueTask.FromResult<IReadOnlyList<LogoutRecipient>>([.. _options.CurrentValue.Clients]);
}
