using Duende.IdentityServer;
using Duende.IdentityServer.Models;
using Duende.IdentityServer.Stores;
using Microsoft.Extensions.Logging;

namespace AutoSignOut.IdentityServer.Duende;

/// <summary>
/// Sees every grant removal, whoever asks for it (the revocation endpoint, <c>IPersistedGrantService.RemoveAllGrantsAsync</c>,
/// session coordination, admin code calling the store): reads the grants first (<see cref="RemoveAsync"/> gets only a
/// hashed key), removes them, and adds each live refresh or reference token to the running revocation. Other grant
/// types (authorization codes, consents, CIBA requests), expired or consumed tokens, and removals inside the
/// refresh-token service (rotation) are not revocations and notify nobody.
/// </summary>
internal sealed class PersistedGrantStoreDecorator : IPersistedGrantStore
{
    private readonly IPersistedGrantStore _inner;
    private readonly RevocationNotifier _notifier;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public PersistedGrantStoreDecorator(IPersistedGrantStore inner, RevocationNotifier notifier, TimeProvider time, ILogger<PersistedGrantStoreDecorator> logger)
    {
        _inner = inner;
        _notifier = notifier;
        _time = time;
        _logger = logger;
    }

    public Task StoreAsync(PersistedGrant grant) => _inner.StoreAsync(grant);

    public Task<PersistedGrant?> GetAsync(string key) => _inner.GetAsync(key);

    public Task<IEnumerable<PersistedGrant>> GetAllAsync(PersistedGrantFilter filter) => _inner.GetAllAsync(filter);

    public Task RemoveAsync(string key)
    {
        if (RevocationBatch.Current is { Ignoring: true })
        {
            return _inner.RemoveAsync(key);
        }

        return _notifier.RunAsync(async batch =>
        {
            var grant = await ReadAsync(() => _inner.GetAsync(key)).ConfigureAwait(false);
            await _inner.RemoveAsync(key).ConfigureAwait(false);
            AddRevoked(batch, grant is null ? [] : [grant]);
        });
    }

    public Task RemoveAllAsync(PersistedGrantFilter filter)
    {
        if (RevocationBatch.Current is { Ignoring: true })
        {
            return _inner.RemoveAllAsync(filter);
        }

        return _notifier.RunAsync(async batch =>
        {
            var grants = await ReadAsync(() => _inner.GetAllAsync(filter)).ConfigureAwait(false);
            await _inner.RemoveAllAsync(filter).ConfigureAwait(false);
            AddRevoked(batch, grants ?? []);
        });
    }

    private async Task<T?> ReadAsync<T>(Func<Task<T>> read)
    {
        try
        {
            return await read().ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // The removal itself must go on: it is the user's or the admin's request.
            _logger.GrantReadFailed(exception);
            return default;
        }
    }

    private void AddRevoked(RevocationBatch batch, IEnumerable<PersistedGrant> grants)
    {
        var now = _time.GetUtcNow().UtcDateTime;
        foreach (var grant in grants)
        {
            var isToken = grant.Type is IdentityServerConstants.PersistedGrantTypes.RefreshToken or IdentityServerConstants.PersistedGrantTypes.ReferenceToken;
            var live = grant.ConsumedTime is null && (grant.Expiration is not { } expires || expires > now);
            if (isToken && live && !string.IsNullOrEmpty(grant.ClientId) && (!string.IsNullOrEmpty(grant.SubjectId) || !string.IsNullOrEmpty(grant.SessionId)))
            {
                batch.Add(new RevocationTarget(
                    string.IsNullOrEmpty(grant.SubjectId) ? null : grant.SubjectId,
                    string.IsNullOrEmpty(grant.SessionId) ? null : grant.SessionId,
                    grant.ClientId,
                    RevocationReasons.TokenRevoked,
                    EndsSession: false));
            }
        }
    }
}
