using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace AutoSignOut.AspNetCore;

/// <summary>
/// The in-process <see cref="IRevokedSessionStore"/>: a dictionary of revoked keys, each kept for
/// <see cref="AutoSignOutOptions.RevocationLifetime"/> and swept on a timer.
/// </summary>
internal sealed class InMemoryRevokedSessionStore : IRevokedSessionStore, IDisposable
{
    private readonly ConcurrentDictionary<(string Issuer, ConnectionKey Key), long> _revokedAt = new();
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

    public ValueTask RevokeAsync(string? issuer, IReadOnlyList<ConnectionKey> keys, DateTimeOffset revokedAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var ticks = revokedAt.UtcTicks;
        for (var i = 0; i < keys.Count; i++)
        {
            var key = (issuer ?? string.Empty, keys[i]);
            while (true)
            {
                if (_revokedAt.TryAdd(key, ticks))
                {
                    Interlocked.Increment(ref _count);
                    break;
                }

                // Keep the latest revocation: it covers everything the earlier one did.
                if (_revokedAt.TryGetValue(key, out var existing) && (existing >= ticks || _revokedAt.TryUpdate(key, ticks, existing)))
                {
                    break;
                }
            }
        }

        return ValueTask.CompletedTask;
    }

    public bool IsRevoked(string? issuer, IReadOnlyList<ConnectionKey> keys, DateTimeOffset issuedAt)
    {
        if (Volatile.Read(ref _count) == 0)
        {
            return false;
        }

        var issuedTicks = issuedAt.UtcTicks;
        var oldestLive = _time.GetUtcNow().UtcTicks - _lifetimeTicks;
        for (var i = 0; i < keys.Count; i++)
        {
            if (Covers((string.Empty, keys[i]), issuedTicks, oldestLive)
                || (!string.IsNullOrEmpty(issuer) && Covers((issuer, keys[i]), issuedTicks, oldestLive)))
            {
                return true;
            }
        }

        return false;
    }

    private bool Covers((string, ConnectionKey) entry, long issuedTicks, long oldestLive) =>
        _revokedAt.TryGetValue(entry, out var revokedTicks) && revokedTicks >= oldestLive && issuedTicks <= revokedTicks;

    internal void Sweep()
    {
        var oldestLive = _time.GetUtcNow().UtcTicks - _lifetimeTicks;
        foreach (var entry in _revokedAt)
        {
            if (entry.Value < oldestLive && _revokedAt.TryRemove(entry))
            {
                Interlocked.Decrement(ref _count);
            }
        }
    }

    public void Dispose() => _sweeper.Dispose();
}
