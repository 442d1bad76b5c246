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
        var keys = new List<SecurityKey>(provider.SigningKeys.Count + discovered.Count);
        keys.AddRange(provider.SigningKeys);
        keys.AddRange(discovered);
        var parameters = new TokenValidationParameters
        {
            ValidIssuer = issuer,
            ValidAudiences = [.. provider.ClientIds],
            IssuerSigningKeys = keys,
            ValidAlgorithms = [.. options.AllowedAlgorithms],
            RequireSignedTokens = true,
            RequireExpirationTime = false,
            // iat, exp and nbf are checked against the TimeProvider in LogoutTokenValidator.
            ValidateLifetime = false,
            ValidateIssuer = true,
            ValidateAudience = true,
            ValidateIssuerSigningKey = false,
            TryAllIssuerSigningKeys = true,
            ClockSkew = options.ClockSkew,
        };
        return new Snapshot(issuer, keys, parameters, fetchedTicks);
    }

    internal sealed record Snapshot(string Issuer, IReadOnlyList<SecurityKey> Keys, TokenValidationParameters Parameters, long FetchedTicks)
    {
        public bool HasKey(string kid)
        {
            foreach (var key in Keys)
            {
                if (string.Equals(key.KeyId, kid, StringComparison.Ordinal))
                {
                    return true;
                }
            }

            return false;
        }
    }
}
