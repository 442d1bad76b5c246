using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AutoSignOut.IdentityServer.OpenIddict;

/// <summary>
/// The default <see cref="IAutoSignOutRevocationWriter"/>: revokes, then hands each revocation to the engine. Used
/// when OpenIddict's stores and the outbox do not share a database transaction; a crash between the two loses the
/// notification, which the EF Core writer rules out.
/// </summary>
internal sealed class NotifyAfterRevocationWriter : IAutoSignOutRevocationWriter
{
    private readonly IServiceProvider _services;
    private readonly IAutoSignOutServer _server;
    private readonly OpenIddictBindingTelemetry _telemetry;
    private readonly ILogger _logger;

    public NotifyAfterRevocationWriter(IServiceProvider services, IAutoSignOutServer server, OpenIddictBindingTelemetry telemetry, ILogger<NotifyAfterRevocationWriter> logger)
    {
        _services = services;
        _server = server;
        _telemetry = telemetry;
        _logger = logger;
    }

    public async Task<TResult> RevokeAsync<TResult>(Func<CancellationToken, Task<RevocationOutcome<TResult>>> revoke, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(revoke);
        RevocationOutcome<TResult> outcome;
        using (RevocationScope.Enter(RevocationScope.Current with { Services = _services }))
        {
            outcome = await revoke(cancellationToken).ConfigureAwait(false);
            foreach (var revocation in outcome.Revocations)
            {
                try
                {
                    // The revocation has happened: its notification must not be cancelled by the caller going away.
                    var count = await _server.RevokeAsync(revocation, CancellationToken.None).ConfigureAwait(false);
                    _telemetry.Revocations.Add(1, new KeyValuePair<string, object?>("reason", revocation.Reason));
                    _logger.RevocationNotified(revocation.Reason, count);
                }
                catch (Exception exception)
                {
                    // The revocation stands; failing the user's logout for a notification would not bring it back.
                    _telemetry.Failures.Add(1, new KeyValuePair<string, object?>("stage", "enqueue"));
                    _logger.NotificationEnqueueFailed(exception, revocation.Reason);
                }
            }
        }

        return outcome.Result;
    }
}

/// <summary>Resolves the binding's scoped services from the ambient unit of work, or from a new scope.</summary>
internal static class AmbientServices
{
    public static async Task<T> RunAsync<T>(IServiceScopeFactory scopes, Func<IServiceProvider, Task<T>> work)
    {
        if (RevocationScope.Current.Services is { } services)
        {
            return await work(services).ConfigureAwait(false);
        }

        await using var scope = scopes.CreateAsyncScope();
        return await work(scope.ServiceProvider).ConfigureAwait(false);
    }
}
