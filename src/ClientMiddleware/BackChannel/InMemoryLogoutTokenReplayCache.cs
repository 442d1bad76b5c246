using System.Collections.Concurrent;

namespace AutoSignOut.AspNetCore;

/// <summary>The in-process <see cref="ILogoutTokenReplayCache"/>; entries leave when their token would have expired.</summary>
internal sealed class InMemoryLogoutTokenReplayCache : ILogoutTokenReplayCache, IDisposable
{
    private static readonly TimeSpan SweepPeriod = TimeSpan.FromMinutes(1);
    private readonly ConcurrentDictionary<(string Issuer, string TokenId), long> _expiresAt = new();
    private readonly TimeProvider _time;
    private readonly ITimer _sweeper;

    public InMemoryLogoutTokenReplayCache(TimeProvider time)
    {
        _time = time;
        _sweeper = time.CreateTimer(static s => ((InMemoryLogoutTokenReplayCache)s!).Sweep(), this, SweepPeriod, SweepPeriod);
    }

    public int Count => _expiresAt.Count;

    public ValueTask<bool> ContainsAsync(string issuer, string tokenId, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(_expiresAt.TryGetValue((issuer, tokenId), out var expires) && expires > _time.GetUtcNow().UtcTicks);

    public ValueTask<bool> TryAddAsync(string issuer, string tokenId, DateTimeOffset expiresAt, CancellationToken cancellationToken = default)
    {
        var now = _time.GetUtcNow().UtcTicks;
        var key = (issuer, tokenId);
        while (true)
        {
            if (_expiresAt.TryAdd(key, expiresAt.UtcTicks))
            {
                return ValueTask.FromResult(true);
            }

            if (_expiresAt.TryGetValue(key, out var existing))
            {
                if (existing > now)
                {
                    return ValueTask.FromResult(false);
                }

                // An expired entry the sweeper has not reached yet: the token it guarded can no longer validate anyway.
                if (_expiresAt.TryUpdate(key, expiresAt.UtcTicks, existing))
                {
                    return ValueTask.FromResult(true);
                }
            }
        }
    }

    internal void Sweep()
    {
        var now = _time.GetUtcNow().UtcTicks;
        foreach (var entry in _expiresAt)
        {
            if (entry.Value <= now)
            {
                _expiresAt.TryRemove(entry);
            }
        }
    }

    public void Dispose() => _sweeper.Dispose();
}
