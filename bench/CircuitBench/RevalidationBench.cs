using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Claims;
using AutoSignOut.AspNetCore;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Server;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AutoSignOut.CircuitBench;

/// <summary>
/// The polling alternative: one <see cref="RevalidatingServerAuthenticationStateProvider"/> per circuit asking the
/// session store every interval whether the session is still valid; a revoked session is noticed at the next poll.
/// </summary>
internal static class RevalidationBench
{
    public static async Task<(List<double> TimeToSignedOut, double QueriesPerMinute)> RunAsync(
        IServiceProvider services, int circuits, TimeSpan interval, TimeSpan steadyWindow)
    {
        var store = new CountingRevokedSessionStore(services.GetRequiredService<IOptions<AutoSignOutOptions>>(), TimeProvider.System);
        var loggers = services.GetRequiredService<ILoggerFactory>();
        var signedOutAt = new ConcurrentDictionary<string, long>();
        var providers = new List<PollingProvider>();
        var random = new Random(4);

        // Circuits open at different moments, so their polls are spread over the interval.
        var opening = new List<Task>();
        for (var i = 0; i < circuits; i++)
        {
            var sid = "rs" + i;
            var provider = new PollingProvider(loggers, store, interval, DateTimeOffset.UtcNow);
            providers.Add(provider);
            provider.AuthenticationStateChanged += async state =>
            {
                if ((await state).User.Identity?.IsAuthenticated != true)
                {
                    signedOutAt.TryAdd(sid, Stopwatch.GetTimestamp());
                }
            };
            var delay = TimeSpan.FromMilliseconds(random.NextDouble() * interval.TotalMilliseconds);
            opening.Add(Task.Delay(delay).ContinueWith(
                _ => provider.SetAuthenticationState(Task.FromResult(new AuthenticationState(
                    new ClaimsPrincipal(new ClaimsIdentity([new Claim("sub", "r" + sid), new Claim("sid", sid)], "bench"))))),
                TaskScheduler.Default));
        }

        await Task.WhenAll(opening);
        await Task.Delay(interval);
        var before = store.Lookups;
        await Task.Delay(steadyWindow);
        var queriesPerMinute = (store.Lookups - before) * 60.0 / steadyWindow.TotalSeconds;

        // Revocations at random moments; each is noticed at that circuit's next poll.
        var revokedAt = new ConcurrentDictionary<string, long>();
        var revoking = new List<Task>();
        for (var i = 0; i < circuits; i++)
        {
            var sid = "rs" + i;
            var delay = TimeSpan.FromMilliseconds(random.NextDouble() * interval.TotalMilliseconds);
            revoking.Add(Task.Delay(delay).ContinueWith(
                async _ =>
                {
                    revokedAt[sid] = Stopwatch.GetTimestamp();
                    await store.RevokeAsync(null, [ConnectionKey.Session(sid)], DateTimeOffset.UtcNow);
                },
                TaskScheduler.Default).Unwrap());
        }

        await Task.WhenAll(revoking);
        var deadline = Stopwatch.GetTimestamp() + (long)(Stopwatch.Frequency * (interval.TotalSeconds * 2 + 5));
        while (signedOutAt.Count < circuits && Stopwatch.GetTimestamp() < deadline)
        {
            await Task.Delay(50);
        }

        foreach (var provider in providers)
        {
            ((IDisposable)provider).Dispose();
        }

        var times = revokedAt.Where(r => signedOutAt.ContainsKey(r.Key))
            .Select(r => Stopwatch.GetElapsedTime(r.Value, signedOutAt[r.Key]).TotalMilliseconds)
            .ToList();
        if (times.Count < circuits)
        {
            Console.WriteLine($"warning: only {times.Count} of {circuits} polling circuits noticed their revocation in time");
        }

        return (times, queriesPerMinute);
    }

    /// <summary>Asks the session store on every revalidation, as an app's provider would ask its database.</summary>
    private sealed class PollingProvider(ILoggerFactory loggers, CountingRevokedSessionStore store, TimeSpan interval, DateTimeOffset issuedAt)
        : RevalidatingServerAuthenticationStateProvider(loggers)
    {
        protected override TimeSpan RevalidationInterval => interval;

        protected override Task<bool> ValidateAuthenticationStateAsync(AuthenticationState authenticationState, CancellationToken cancellationToken)
        {
            var user = authenticationState.User;
            return Task.FromResult(!store.IsRevoked(user.FindIssuer(), ConnectionKeyDefaults.FromPrincipal(user), issuedAt));
        }
    }
}
