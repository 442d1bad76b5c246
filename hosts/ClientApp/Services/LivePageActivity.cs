using System.Collections.Concurrent;

namespace AutoSignOut.ClientApp.Services;

/// <summary>
/// Counts the server-side events the live page handles, per user: what a signed-out circuit must no longer cause.
/// Shown on the page; the browser tests read it to check that a revoked circuit processes nothing further.
/// </summary>
public sealed class LivePageActivity
{
    private readonly ConcurrentDictionary<string, long> _clicks = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _ticks = new(StringComparer.Ordinal);

    /// <summary>Records a click handled for <paramref name="user"/> and returns their total.</summary>
    /// <param name="user">The user.</param>
    public long Click(string user) => _clicks.AddOrUpdate(user, 1, static (_, n) => n + 1);

    /// <summary>Records a tick rendered for <paramref name="user"/>.</summary>
    /// <param name="user">The user.</param>
    public void Tick(string user) => _ticks.AddOrUpdate(user, 1, static (_, n) => n + 1);

    /// <summary>The clicks handled for <paramref name="user"/>.</summary>
    /// <param name="user">The user.</param>
    public long Clicks(string user) => _clicks.GetValueOrDefault(user);

    /// <summary>The ticks rendered for <paramref name="user"/> while signed in.</summary>
    /// <param name="user">The user.</param>
    public long Ticks(string user) => _ticks.GetValueOrDefault(user);
}
