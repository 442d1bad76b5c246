using Duende.IdentityServer.Models;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AutoSignOut.IdentityServer.Duende;

/// <summary>
/// Reports, when the host starts, in-memory clients whose <c>BackChannelLogoutUri</c> is not an absolute http(s) URI:
/// they will not be notified. The host starts anyway, so one misconfigured client cannot take everyone's logout down.
/// </summary>
internal sealed class BackChannelLogoutClientCheck : IHostedService
{
    private readonly IEnumerable<Client> _clients;
    private readonly IOptions<AutoSignOutDuendeOptions> _options;
    private readonly ILogger _logger;

    public BackChannelLogoutClientCheck(IEnumerable<Client> clients, IOptions<AutoSignOutDuendeOptions> options, ILogger<BackChannelLogoutClientCheck> logger)
    {
        _clients = clients;
        _options = options;
        _logger = logger;
    }

    /// <summary>The ids of the clients found invalid at start.</summary>
    public IReadOnlyList<string> Invalid { get; private set; } = [];

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (_options.Value.CheckClientsAtStart)
        {
            Invalid = [.. _clients
                .Where(static c => !string.IsNullOrWhiteSpace(c.BackChannelLogoutUri) && !BackChannelLogoutUris.TryParse(c.BackChannelLogoutUri, out _))
                .Select(static c => c.ClientId)];
            foreach (var clientId in Invalid)
            {
                _logger.InvalidBackChannelLogoutUri(clientId);
            }
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
