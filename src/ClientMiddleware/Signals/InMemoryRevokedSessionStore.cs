using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace AutoSignOut.AspNetCore;

/// <summary>
/// The in-process <see cref="IRevokedSessionStore"/>: a dictionary of revoked keys, each kept for
/// <see cref="AutoSignOutOptions.RevocationLifetime"/> and swept on a timer.
/// </summary>
internal sealed class InMemoryRevokedSessionStore : IRevokedSessionStore, IDisposable
{
    private readonly ConcurrentDictionary<(string Issuer, ConnectionKey Key), RevocationTime> _revokedAt = new();
    private readonly TimeProvider _time;
    private readonly long _lifetimeTicks;
    private readonly ITimer _sweeper;
    private int _count;

    public InMemoryRevokedSessionStore(IOptions<AutoSignOutOptions> options, TimeProvider time)
    {
        _time = time;
        var lifetime = options.Value.RevocationLifetime;
        _lifetimeTicks = lifetime.Ticks;
        var period = lifetime < TimeSpan.FromMinutes(5) ? lifetime : TimeSpan.FromMinutes(5);
        _sweeper = time.CreateTimer(static s => ((InMemoryRevokedSessionStore)s!).Sweep(), this, period, period);
    }

    public int Count => Volatile.Read(ref _count);

    public ValueTask RevokeAsync(string? issuer, IReadOnlyList<ConnectionKey> keys, RevocationTime revokedAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        for (var i = 0; i < keys.Count; i++)
        {
            var key = (issuer ?? string.Empty, keys[i]);
            while (true)
            {
                if (_revokedAt.TryAdd(key, revokedAt))
                {
                    Interlocked.Increment(ref _count);
                    break;
                }

                // Keep the latest revocation, bound by bound: it covers everything the earlier one did.
                if (_revokedAt.TryGetValue(key, out var existing))
                {
                    var merged = RevocationTime.Max(existing, revokedAt);
                    if (merged == existing || _revokedAt.TryUpdate(key, merged, existing))
                    {
                        break;
                    }
                }
            }
        }

        return ValueTask.CompletedTask;
    }

    public bool IsRevoked(string? issuer, IReadOnlyList<ConnectionKey> keys, IssueTime issuedAt)
    {
        ArgumentNullException.ThrowIfNull(keys);
        if (Volatile.Read(ref _count) == 0)
        {
            return false;
        }

        var oldestLive = _time.GetUtcNow().UtcTicks - _lifetimeTicks;
        for (var i = 0; i < keys.Count; i++)
        {
            if (Covers((string.Empty, keys[i]), issuedAt, oldestLive)
                || (!string.IsNullOrEmpty(issuer) && Covers((issuer, keys[i]), issuedAt, oldestLive)))
            {
                return true;
            }
        }

        return false;
    }

    private bool Covers((string, ConnectionKey Key) entry, IssueTime issuedAt, long oldestLive) =>
        _revokedAt.TryGetValue(entry, out var revokedAt) && revokedAt.LocalTicks >= oldestLive
        && (entry.Key.Type == ConnectionKey.TokenType || revokedAt.Covers(issuedAt));

    internal void Sweep()
    {
        var oldestLive = _time.GetUtcNow().UtcTicks - _lifetimeTicks;
        foreach (var entry in _revokedAt)
        {
            if (entry.Value.LocalTicks < oldestLive && _revokedAt.TryRemove(entry))
            {
                Interlocked.Decrement(ref _count);
            }
        }
    }

    public void Dispose() => _sweeper.Dispose();
}
