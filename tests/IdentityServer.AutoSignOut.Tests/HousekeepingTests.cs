using AutoSignOut.IdentityServer.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace AutoSignOut.IdentityServer.Tests;

/// <summary>
/// Item 9: housekeeping (the token index purge, dead-letter retention) runs apart from the delivery loop, so a purge
/// that takes long never holds a sign-out up. The purges here hang until the test lets them go: a delivery enqueued
/// meanwhile must arrive all the same.
/// </summary>
[TestClass]
public sealed class HousekeepingTests
{
    [TestMethod]
    [DataRow("in-memory")]
    [DataRow("SQLite")]
    public async Task Deliveries_go_on_while_a_token_index_purge_or_a_dead_letter_purge_hangs(string outbox)
    {
        var time = EngineHost.NewClock();
        var purges = new HangingPurges();
        await using var database = outbox == "SQLite" ? TestDatabase.SqliteFile() : null;
        await using var receiver = await LoopbackReceiver.StartAsync();
        await using var engine = await EngineHost.CreateAsync(
            time,
            o => o.Clients.Add(new LogoutRecipient("client1", receiver.Endpoint)),
            services =>
            {
                services.AddSingleton<IIssuedTokenIndex>(purges);
                DecorateOutbox(services, inner => new PurgeHangingOutbox(inner, purges));
            },
            database: database);

        try
        {
            // The first housekeeping pass purges at once: the token index purge hangs.
            await purges.TokenIndexPurgeStarted.Task.WaitAsync(TimeSpan.FromSeconds(30));
            await engine.Server.SignOutSessionAsync("during-token-index-purge");
            await Eventually.UntilAsync(() => receiver.Accepted.Count == 1, "a sign-out was delivered while the token index purge hangs");

            // Let it finish: the dead-letter purge that follows hangs in turn.
            purges.ReleaseTokenIndexPurge();
            await purges.DeadLetterPurgeStarted.Task.WaitAsync(TimeSpan.FromSeconds(30));
            await engine.Server.SignOutSessionAsync("during-dead-letter-purge");
            await Eventually.UntilAsync(() => receiver.Accepted.Count == 2, "a sign-out was delivered while the dead-letter purge hangs");
            Assert.IsFalse(purges.DeadLetterPurgeReleased, "the dead-letter purge was released");
        }
        finally
        {
            purges.ReleaseAll();
        }
    }

    /// <summary>Replaces the registered outbox with <paramref name="decorate"/> applied to it.</summary>
    private static void DecorateOutbox(IServiceCollection services, Func<ILogoutOutbox, ILogoutOutbox> decorate)
    {
        var registered = services.Last(d => d.ServiceType == typeof(ILogoutOutbox));
        services.Remove(registered);
        services.AddSingleton(sp => decorate(registered.ImplementationFactory is { } factory
            ? (ILogoutOutbox)factory(sp)
            : registered.ImplementationInstance as ILogoutOutbox ?? (ILogoutOutbox)ActivatorUtilities.CreateInstance(sp, registered.ImplementationType!)));
    }

    /// <summary>Purges that hang, each until released (or the host stops), telling the test when they start.</summary>
    private sealed class HangingPurges : IIssuedTokenIndex
    {
        private readonly TaskCompletionSource _releaseTokenIndex = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _releaseDeadLetters = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource TokenIndexPurgeStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource DeadLetterPurgeStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool DeadLetterPurgeReleased => _releaseDeadLetters.Task.IsCompleted;

        public void ReleaseTokenIndexPurge() => _releaseTokenIndex.TrySetResult();

        public void ReleaseAll()
        {
            _releaseTokenIndex.TrySetResult();
            _releaseDeadLetters.TrySetResult();
        }

        public ValueTask RecordAsync(IssuedToken token, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask<IReadOnlyList<IssuedToken>> FindAsync(string? subject, string? sessionId, DateTimeOffset now, CancellationToken cancellationToken)
            => ValueTask.FromResult<IReadOnlyList<IssuedToken>>([]);

        public async ValueTask<int> RemoveExpiredAsync(DateTimeOffset now, CancellationToken cancellationToken)
        {
            TokenIndexPurgeStarted.TrySetResult();
            await _releaseTokenIndex.Task.WaitAsync(cancellationToken);
            return 0;
        }

        public async ValueTask<int> HangDeadLetterPurgeAsync(CancellationToken cancellationToken)
        {
            DeadLetterPurgeStarted.TrySetResult();
            await _releaseDeadLetters.Task.WaitAsync(cancellationToken);
            return 0;
        }
    }

    /// <summary>An outbox whose dead-letter purge hangs; everything else goes to the real one.</summary>
    private sealed class PurgeHangingOutbox(ILogoutOutbox inner, HangingPurges purges) : ILogoutOutbox
    {
        public ValueTask<int> RemoveDeadLetteredAsync(DateTimeOffset before, int maxCount, CancellationToken cancellationToken)
            => purges.HangDeadLetterPurgeAsync(cancellationToken);

        public ValueTask EnqueueAsync(IReadOnlyList<LogoutNotification> notifications, CancellationToken cancellationToken) => inner.EnqueueAsync(notifications, cancellationToken);

        public ValueTask<IReadOnlyList<LogoutNotification>> LeaseDueAsync(int maxCount, DateTimeOffset now, DateTimeOffset leaseExpiresAt, CancellationToken cancellationToken)
            => inner.LeaseDueAsync(maxCount, now, leaseExpiresAt, cancellationToken);

        public ValueTask<IReadOnlyList<LogoutNotification>> LeaseDueAsync(int maxCount, DateTimeOffset now, DateTimeOffset leaseExpiresAt, string leaseOwner, CancellationToken cancellationToken)
            => inner.LeaseDueAsync(maxCount, now, leaseExpiresAt, leaseOwner, cancellationToken);

        public ValueTask<int> ReleaseLeasesAsync(string leaseOwner, DateTimeOffset now, CancellationToken cancellationToken) => inner.ReleaseLeasesAsync(leaseOwner, now, cancellationToken);

        public ValueTask<DateTimeOffset?> GetNextDueAsync(DateTimeOffset now, CancellationToken cancellationToken) => inner.GetNextDueAsync(now, cancellationToken);

        public ValueTask CompleteAsync(IReadOnlyList<LogoutNotification> notifications, CancellationToken cancellationToken) => inner.CompleteAsync(notifications, cancellationToken);

        public ValueTask RescheduleAsync(LogoutNotification notification, CancellationToken cancellationToken) => inner.RescheduleAsync(notification, cancellationToken);

        public ValueTask DeadLetterAsync(LogoutNotification notification, CancellationToken cancellationToken) => inner.DeadLetterAsync(notification, cancellationToken);

        public ValueTask<LogoutOutboxSnapshot> GetSnapshotAsync(DateTimeOffset now, CancellationToken cancellationToken) => inner.GetSnapshotAsync(now, cancellationToken);
    }
}
