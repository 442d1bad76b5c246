using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace AutoSignOut.AspNetCore;

/// <summary>
/// The signing keys and issuer of one provider: configured keys plus discovered ones, cached, read again after
/// <see cref="AutoSignOutOptions.AutomaticKeyRefreshInterval"/>, and refreshed on an unknown <c>kid</c> at most
/// once per <see cref="AutoSignOutOptions.MinimumKeyRefreshInterval"/> so a flood of bogus kids cannot hammer the provider.
/// </summary>
internal sealed class ProviderKeys(OpenIdProvider provider, AutoSignOutOptions options, HttpClient httpClient, TimeProvider time)
{
    private readonly SemaphoreSlim _refreshLock = new(1, 1);
    private Snapshot? _current;
    private long _lastFetchTicks = long.MinValue;

    public OpenIdProvider Provider => provider;

    /// <summary>The keys and validation parameters in force, reading metadata first if needed.</summary>
    public async ValueTask<Snapshot> GetAsync(CancellationToken cancellationToken)
    {
        var current = _current;
        if (current is not null && (!provider.UsesMetadata || time.GetUtcNow().UtcTicks - current.FetchedTicks < options.AutomaticKeyRefreshInterval.Ticks))
        {
            return current;
        }

        return await RefreshAsync(force: current is null, cancellationToken);
    }

    /// <summary>Reads metadata again for an unknown <c>kid</c>, unless the last read was too recent. Returns <see langword="null"/> when rate-limited.</summary>
    public async ValueTask<Snapshot?> RefreshForUnknownKeyAsync(CancellationToken cancellationToken)
    {
        if (!provider.UsesMetadata || time.GetUtcNow().UtcTicks - Volatile.Read(ref _lastFetchTicks) < options.MinimumKeyRefreshInterval.Ticks)
        {
            return null;
        }

        var before = _current;
        var after = await RefreshAsync(force: false, cancellationToken);
        return ReferenceEquals(before, after) ? null : after;
    }

    private async ValueTask<Snapshot> RefreshAsync(bool force, CancellationToken cancellationToken)
    {
        var seen = _current;
        await _refreshLock.WaitAsync(cancellationToken);
        try
        {
            // Another caller refreshed while this one waited: use its result instead of reading again.
            if (_current is not null && !ReferenceEquals(_current, seen))
            {
                return _current;
            }

            if (!provider.UsesMetadata)
            {
                return _current ??= Create(provider.ConfiguredIssuer!, [], 0);
            }

            if (!force && time.GetUtcNow().UtcTicks - Volatile.Read(ref _lastFetchTicks) < options.MinimumKeyRefreshInterval.Ticks && _current is not null)
            {
                return _current;
            }

            Volatile.Write(ref _lastFetchTicks, time.GetUtcNow().UtcTicks);
            var retriever = new HttpDocumentRetriever(provider.Backchannel ?? httpClient) { RequireHttps = provider.RequireHttpsMetadata };
            var configuration = await OpenIdConnectConfigurationRetriever.GetAsync(provider.MetadataAddress, retriever, cancellationToken);
            var issuer = provider.Issuer ?? configuration.Issuer;
            if (string.IsNullOrEmpty(issuer))
            {
                throw new InvalidOperationException("The discovery document has no issuer.");
            }

            return _current = Create(issuer, configuration.SigningKeys, time.GetUtcNow().UtcTicks);
        }
        finally
        {
            _refreshLock.Release();
        }
    }

    private Snapshot Create(string issuer, ICollection<SecurityKey> discovered, long fetchedTicks)
    {
        var keys = new List<SignatureVerifier>(provider.SigningKeys.Count + discovered.Count);
        keys.AddRange(provider.SigningKeys.Select(k => new SignatureVerifier(k)));
        keys.AddRange(discovered.Select(k => new SignatureVerifier(k)));
        return new Snapshot(issuer, keys, fetchedTicks);
    }

    internal sealed record Snapshot(string Issuer, IReadOnlyList<SignatureVerifier> Keys, long FetchedTicks)
    {
        /// <summary>Whether a key may verify a token with this <c>kid</c>: one with that id, or one configured without an id.</summary>
        public bool HasKey(string kid)
        {
            foreach (var key in Keys)
            {
                if (string.IsNullOrEmpty(key.KeyId) || string.Equals(key.KeyId, kid, StringComparison.Ordinal))
                {
                    return true;
                }
            }

            return false;
        }

        /// <summary>Verifies the signature with the key named by <c>kid</c>, or, without one, with each key in turn.</summary>
        public bool Verify(JwsParts jws, string algorithm)
        {
            foreach (var key in Keys)
            {
                if (jws.KeyId is { Length: > 0 } kid && !string.IsNullOrEmpty(key.KeyId) && !string.Equals(key.KeyId, kid, StringComparison.Ordinal))
                {
                    continue;
                }

                if (key.Verify(algorithm, jws.SigningInput, jws.Signature))
                {
                    return true;
                }
            }

            return false;
        }
    }
}
