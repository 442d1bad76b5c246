using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AutoSignOut.AspNetCore;

/// <summary>
/// The <see cref="ProviderKeys"/> of every configured provider. A logout token's <c>iss</c> is matched against each
/// provider's discovered issuer (which may differ from its authority, by a trailing slash or altogether), so the
/// metadata is read at start (the start waits for it at most <see cref="AutoSignOutOptions.KeyRefreshTimeout"/>, and goes
/// on if it fails); until it is read, the configured issuer stands in, and an <c>iss</c> that matches nothing makes the
/// providers not yet read be read (single-flight, with back-off).
/// </summary>
internal sealed class ProviderKeySet : IHostedService
{
    private readonly ProviderKeys[] _providers;

    public ProviderKeySet(IOptions<AutoSignOutOptions> options, IHttpClientFactory httpClientFactory, TimeProvider time, ILogger<ProviderKeySet> logger)
    {
        var httpClient = httpClientFactory.CreateClient(AutoSignOutDefaults.HttpClientName);
        _providers = [.. options.Value.Providers.Select(p => new ProviderKeys(p, options.Value, httpClient, time, logger))];
    }

    public IReadOnlyList<ProviderKeys> Providers => _providers;

    /// <summary>The provider whose issuer is <paramref name="issuer"/>, or <see langword="null"/>.</summary>
    public async ValueTask<ProviderKeys?> FindAsync(string? issuer, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(issuer))
        {
            return null;
        }

        var unread = false;
        foreach (var provider in _providers)
        {
            if (provider.Current is { } snapshot)
            {
                if (string.Equals(snapshot.Issuer, issuer, StringComparison.Ordinal))
                {
                    return provider;
                }
            }
            else if (string.Equals(provider.Provider.ConfiguredIssuer, issuer, StringComparison.Ordinal))
            {
                return provider;
            }
            else
            {
                unread = true;
            }
        }

        if (!unread)
        {
            return null;
        }

        foreach (var provider in _providers)
        {
            if (provider.Current is null && await provider.GetAsync(cancellationToken) is { } snapshot
                && string.Equals(snapshot.Issuer, issuer, StringComparison.Ordinal))
            {
                return provider;
            }
        }

        return null;
    }

    /// <summary>Reads every provider's metadata, so a discovered issuer that differs from the authority is said at start; failures are logged and retried on demand.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Task.WhenAll(_providers.Where(static p => p.Provider.UsesMetadata).Select(p => p.GetAsync(cancellationToken).AsTask()));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The host gave up starting; the reads go on and are used when they complete.
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
