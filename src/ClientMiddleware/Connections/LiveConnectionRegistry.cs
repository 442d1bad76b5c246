using System.Collections.Concurrent;

namespace AutoSignOut.AspNetCore;

/// <summary>
/// The live connections of this node by <see cref="ConnectionKey"/>. Hub connections and circuits register
/// themselves; a signal looks up the connections its keys name. Thread-safe.
/// </summary>
public sealed class LiveConnectionRegistry
{
    private readonly ConcurrentDictionary<ConnectionKey, Bucket> _buckets = new();
    private int _count;

    /// <summary>The number of registered connections.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Registers a connection under each of its keys.</summary>
    /// <param name="connection">The connection.</param>
    public void Register(LiveConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var keys = connection.Keys;
        for (var i = 0; i < keys.Count; i++)
        {
            while (true)
            {
                var bucket = _buckets.GetOrAdd(keys[i], static _ => new Bucket());
                if (bucket.TryAdd(connection))
                {
                    break;
                }

                // The bucket emptied and left the dictionary between GetOrAdd and TryAdd: take a fresh one.
            }
        }

        Interlocked.Increment(ref _count);
    }

    /// <summary>Removes a connection. Removing one that is not registered does nothing.</summary>
    /// <param name="connection">The connection.</param>
    public void Unregister(LiveConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var removed = false;
        var keys = connection.Keys;
        for (var i = 0; i < keys.Count; i++)
        {
            if (_buckets.TryGetValue(keys[i], out var bucket) && bucket.TryRemove(connection, out var nowEmpty))
            {
                removed = true;
                if (nowEmpty)
                {
                    _buckets.TryRemove(new KeyValuePair<ConnectionKey, Bucket>(keys[i], bucket));
                }
            }
        }

        if (removed)
        {
            Interlocked.Decrement(ref _count);
        }
    }

    /// <summary>
    /// Returns the connections registered under any of <paramref name="keys"/> that a revocation for
    /// <paramref name="issuer"/> (<see langword="null"/>: any issuer) at <paramref name="revokedAt"/> covers.
    /// Each connection appears once.
    /// </summary>
    /// <param name="issuer">The issuer the signal speaks for, or <see langword="null"/> for any.</param>
    /// <param name="keys">The keys the signal resolves to.</param>
    /// <param name="revokedAt">
    /// The moment of revocation; connections opened with later credentials are not matched, except under a <c>jti</c>
    /// key, which names the very token whatever its age.
    /// </param>
    public IReadOnlyList<LiveConnection> FindMatches(string? issuer, IReadOnlyList<ConnectionKey> keys, RevocationTime revokedAt)
    {
        ArgumentNullException.ThrowIfNull(keys);
        List<LiveConnection>? result = null;
        HashSet<LiveConnection>? seen = keys.Count > 1 ? new(ReferenceEqualityComparer.Instance) : null;
        for (var i = 0; i < keys.Count; i++)
        {
            if (_buckets.TryGetValue(keys[i], out var bucket))
            {
                bucket.CollectMatches(issuer, revokedAt, keys[i].Type == ConnectionKey.TokenType, ref result, seen);
            }
        }

        return result ?? (IReadOnlyList<LiveConnection>)[];
    }

    /// <summary>The connections under one key. A small array under a lock: most keys hold one to a few connections.</summary>
    private sealed class Bucket
    {
        private LiveConnection[] _items = new LiveConnection[1];
        private int _count;
        private bool _retired;

        public bool TryAdd(LiveConnection connection)
        {
            lock (this)
            {
                if (_retired)
                {
                    return false;
                }

                if (_count == _items.Length)
                {
                    Array.Resize(ref _items, _count * 2);
                }

                _items[_count++] = connection;
                return true;
            }
        }

        public bool TryRemove(LiveConnection connection, out bool nowEmpty)
        {
            lock (this)
            {
                nowEmpty = false;
                for (var i = 0; i < _count; i++)
                {
                    if (ReferenceEquals(_items[i], connection))
                    {
                        _count--;
                        _items[i] = _items[_count];
                        _items[_count] = null!;
                        if (_count == 0)
                        {
                            // A retired bucket refuses new connections, so none is added to a bucket that left the dictionary.
                            _retired = true;
                            nowEmpty = true;
                        }
                        else if (_count < _items.Length / 4)
                        {
                            Array.Resize(ref _items, _items.Length / 2);
                        }

                        return true;
                    }
                }

                return false;
            }
        }

        public void CollectMatches(string? issuer, RevocationTime revokedAt, bool anyAge, ref List<LiveConnection>? result, HashSet<LiveConnection>? seen)
        {
            lock (this)
            {
                for (var i = 0; i < _count; i++)
                {
                    var connection = _items[i];
                    if (connection.IsCoveredBy(issuer, revokedAt, anyAge) && (seen is null || seen.Add(connection)))
                    {
                        (result ??= new List<LiveConnection>(_count)).Add(connection);
                    }
                }
            }
        }
    }
}
