using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace AutoSignOut.AspNetCore;

/// <summary>
/// The signing keys, issuer and algorithms of one provider: configured keys plus discovered ones. Reads of the metadata
/// are single-flight, run on their own timeout (never on a caller's cancellation, so an aborted request cannot cancel
/// one), and are recorded when they complete. A failed read keeps the keys already known and backs off (doubling up to
/// <see cref="AutoSignOutOptions.MinimumKeyRefreshInterval"/>), so with the provider down anonymous requests do not each
/// cause a fetch. Keys are read again after <see cref="AutoSignOutOptions.AutomaticKeyRefreshInterval"/>, and for an
/// unknown <c>kid</c> once per <see cref="AutoSignOutOptions.MinimumKeyRefreshInterval"/> even right after another
/// read, so a rotation is picked up at once while a flood of bogus kids costs at most one extra fetch per interval.
/// </summary>
internal sealed class ProviderKeys
{
    private readonly OpenIdProvider _provider;
    private readonly AutoSignOutOptions _options;
    private readonly HttpClient _httpClient;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private Snapshot? _current;
    private Task<Snapshot?>? _inflight;
    private long _retryNotBeforeTicks = long.MinValue;
    private long _lastUnknownKeyRefreshTicks = long.MinValue;
    private int _failures;
    private bool _issuerLogged;

    public ProviderKeys(OpenIdProvider provider, AutoSignOutOptions options, HttpClient httpClient, TimeProvider time, ILogger logger)
    {
        _provider = provider;
        _options = options;
        _httpClient = httpClient;
        _time = time;
        _logger = logger;
        if (!provider.UsesMetadata)
        {
            _current = Create(provider.ConfiguredIssuer!, [], null, 0);
            _issuerLogged = true;
        }
    }

    public OpenIdProvider Provider => _provider;

    /// <summary>The keys in force, without reading anything; <see langword="null"/> before the first successful read.</summary>
    public Snapshot? Current => Volatile.Read(ref _current);

    /// <summary>
    /// The keys in force, reading the metadata first when there are none yet or they are due for their periodic
    /// refresh (unless backing off after a failure). <see langword="null"/> when none could ever be read.
    /// </summary>
    public async ValueTask<Snapshot?> GetAsync(CancellationToken cancellationToken)
    {
        var current = Current;
        var now = _time.GetUtcNow().UtcTicks;
        if (current is not null && (!_provider.UsesMetadata || now - current.FetchedTicks < _options.AutomaticKeyRefreshInterval.Ticks))
        {
            return current;
        }

        if (now < Volatile.Read(ref _retryNotBeforeTicks))
        {
            return current;
        }

        // While a read is under way, callers that have keys go on with them; the caller that starts it, or one without keys, waits.
        var (read, started) = StartRead();
        if (current is not null && !started)
        {
            return current;
        }

        return await read.WaitAsync(cancellationToken) ?? current;
    }

    /// <summary>
    /// Reads the metadata again for an unknown <c>kid</c>, once per interval. Returns <see langword="null"/> when not
    /// allowed now, or when the read failed.
    /// </summary>
    public async ValueTask<Snapshot?> RefreshForUnknownKeyAsync(CancellationToken cancellationToken)
    {
        if (!_provider.UsesMetadata)
        {
            return null;
        }

        var now = _time.GetUtcNow().UtcTicks;
        var last = Volatile.Read(ref _lastUnknownKeyRefreshTicks);
        if (now < Volatile.Read(ref _retryNotBeforeTicks)
            || (last != long.MinValue && now - last < _options.MinimumKeyRefreshInterval.Ticks)
            || Interlocked.CompareExchange(ref _lastUnknownKeyRefreshTicks, now, last) != last)
        {
            // Not this interval's turn; a read already under way may still bring the key.
            var inflight = Volatile.Read(ref _inflight);
            return inflight is { IsCompleted: false } ? await inflight.WaitAsync(cancellationToken) : null;
        }

        var result = await StartRead().Read.WaitAsync(cancellationToken);

        // The interval counts from the read's completion.
        Volatile.Write(ref _lastUnknownKeyRefreshTicks, _time.GetUtcNow().UtcTicks);
        return result;
    }

    /// <summary>Starts a read, or joins the one under way (single flight).</summary>
    private (Task<Snapshot?> Read, bool Started) StartRead()
    {
        lock (_lock)
        {
            if (_inflight is { IsCompleted: false } running)
            {
                return (running, false);
            }

            var read = Task.Run(ReadAsync);
            Volatile.Write(ref _inflight, read);
            return (read, true);
        }
    }

    private async Task<Snapshot?> ReadAsync()
    {
        var timeout = _options.KeyRefreshTimeout;
        using var cancellation = new CancellationTokenSource(timeout, _time);
        try
        {
            var retriever = new HttpDocumentRetriever(_provider.Backchannel ?? _httpClient) { RequireHttps = _provider.RequireHttpsMetadata };
            var configuration = await OpenIdConnectConfigurationRetriever.GetAsync(_provider.MetadataAddress, retriever, cancellation.Token)
                .WaitAsync(timeout, _time);
            var issuer = _provider.Issuer ?? configuration.Issuer;
            if (string.IsNullOrEmpty(issuer))
            {
                throw new InvalidOperationException("The discovery document has no issuer.");
            }

            if (!_issuerLogged && _provider.Issuer is null && !string.Equals(issuer, _provider.ConfiguredIssuer, StringComparison.Ordinal))
            {
                _issuerLogged = true;
                Log.DiscoveredIssuerDiffers(_logger, issuer, _provider.Authority);
            }

            // The JWKs themselves, not SigningKeys: those are converted keys that no longer carry the JWK's own 'alg'.
            var discovered = configuration.JsonWebKeySet?.Keys.Where(static k => k.Use is null or "sig").Cast<SecurityKey>().ToList()
                ?? [.. configuration.SigningKeys];
            var snapshot = Create(issuer, discovered, configuration.IdTokenSigningAlgValuesSupported, _time.GetUtcNow().UtcTicks);
            Volatile.Write(ref _current, snapshot);
            Volatile.Write(ref _failures, 0);
            Volatile.Write(ref _retryNotBeforeTicks, long.MinValue);
            return snapshot;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            var failures = Interlocked.Increment(ref _failures);
            var ceiling = _options.MinimumKeyRefreshInterval > TimeSpan.FromSeconds(1) ? _options.MinimumKeyRefreshInterval : TimeSpan.FromSeconds(1);
            var backoff = TimeSpan.FromSeconds(Math.Min(ceiling.TotalSeconds, Math.Pow(2, Math.Min(failures - 1, 30))));
            Volatile.Write(ref _retryNotBeforeTicks, _time.GetUtcNow().UtcTicks + backoff.Ticks);
            Log.KeysUnavailable(_logger, e, _provider.MetadataAddress, failures, backoff);

            // A failed periodic refresh keeps the keys it had; they are tried again after the back-off.
            return null;
        }
    }

    private Snapshot Create(string issuer, ICollection<SecurityKey> discovered, ICollection<string>? algorithms, long fetchedTicks)
    {
        // RFC 8725 §3.1, OpenID Connect Core §3.1.3.7: a discovered key verifies only what the provider says it signs
        // with (within the allow-list); keys the app configured itself, any algorithm of the allow-list.
        var listed = algorithms is { Count: > 0 } ? algorithms.ToHashSet(StringComparer.Ordinal) : null;
        var keys = new List<SignatureVerifier>(_provider.SigningKeys.Count + discovered.Count);
        keys.AddRange(_provider.SigningKeys.Select(k => new SignatureVerifier(k)));
        keys.AddRange(discovered.Select(k => new SignatureVerifier(k, listed)));
        return new Snapshot(issuer, keys, fetchedTicks);
    }

    internal sealed record Snapshot(string Issuer, IReadOnlyList<SignatureVerifier> Keys, long FetchedTicks)
    {
        public bool HasKeyWithoutId { get; } = Keys.Any(static k => string.IsNullOrEmpty(k.KeyId));

        /// <summary>Whether a key has exactly this <c>kid</c>.</summary>
        public bool HasKeyId(string kid)
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

        /// <summary>Verifies the signature with the key named by <c>kid</c> (or, when none has it, each key without an id), or without a <c>kid</c> with each key in turn.</summary>
        public bool Verify(JwsParts jws, string algorithm)
        {
            var named = jws.KeyId is { Length: > 0 } kid && HasKeyId(kid);
            foreach (var key in Keys)
            {
                if (jws.KeyId is { Length: > 0 } && !string.IsNullOrEmpty(key.KeyId) && !(named && string.Equals(key.KeyId, jws.KeyId, StringComparison.Ordinal)))
                {
                    continue;
                }

                if (named && string.IsNullOrEmpty(key.KeyId))
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
