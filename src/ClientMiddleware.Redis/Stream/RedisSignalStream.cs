using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace AutoSignOut.AspNetCore.Redis;

/// <summary>
/// The node's side of the stream. Publishing: a signal applied here is appended (<c>XADD</c>, trimmed by age with
/// <c>MINID</c>) and announced on a channel; when Redis is unavailable it waits in a local queue and is appended once
/// Redis is back. Reading: one loop reads the stream from the last id this node applied (<c>XREAD</c>, no blocking
/// command), woken by the channel, by a reconnect and every <see cref="AutoSignOutRedisOptions.PollInterval"/>. At start
/// it reads the stream from its beginning — the revoked set of the last <see cref="AutoSignOutRedisOptions.StreamRetention"/>
/// — recording revocations without closing anything (there is nothing to close yet); afterwards each entry of another
/// node is applied like a local signal. A bad entry is logged, counted and skipped: it never stops the loop.
/// The channel message carries the entry too: a node applies it from the message at once, without waiting for its read
/// of the stream (one round trip less between the node that took the logout token and the others), and the read then
/// skips it. The stream stays the record: a node that missed the message finds the entry there.
/// </summary>
internal sealed class RedisSignalStream : IHostedService, IAsyncDisposable
{
    private readonly RedisConnection _connection;
    private readonly RedisLinkState _state;
    private readonly SignOutSignalProcessor _processor;
    private readonly AutoSignOutRedisOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly RedisMetrics _metrics;
    private readonly TimeSpan _retention;
    // How long an entry id applied from its channel message or from the stream is remembered, so that the other path
    // skips it; and how many at most. Past either, an entry may be applied twice, which closes nothing new.
    private static readonly TimeSpan AppliedIdLifetime = TimeSpan.FromMinutes(2);
    private const int MaxAppliedIds = 10_000;

    private readonly ConcurrentQueue<NameValueEntry[]> _pending = new();
    private readonly ConcurrentDictionary<string, long> _appliedIds = new(StringComparer.Ordinal);
    private long _nextPrune;
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly CancellationTokenSource _stopping = new();
    private readonly string _application;
    private Task? _loop;
    private RedisValue _lastId = "0-0";
    private int _failures;
    private bool _eventsHooked;
    private int _disposed;

    public RedisSignalStream(
        RedisConnection connection,
        RedisLinkState state,
        SignOutSignalProcessor processor,
        IOptions<AutoSignOutRedisOptions> options,
        IOptions<AutoSignOutOptions> autoSignOutOptions,
        RedisMetrics metrics,
        TimeProvider time,
        ILogger<RedisSignalStream> logger)
    {
        _connection = connection;
        _state = state;
        _processor = processor;
        _options = options.Value;
        _time = time;
        _logger = logger;
        _application = _options.ApplicationName!;
        _retention = _options.StreamRetention ?? autoSignOutOptions.Value.RevocationLifetime + TimeSpan.FromHours(1);
        _metrics = metrics;
    }

    /// <summary>This process's id on the stream: its own entries are not applied twice.</summary>
    public string NodeId { get; } = Guid.NewGuid().ToString("N");


    /// <summary>The id of the last entry applied, for tests and diagnostics.</summary>
    public string LastId => (string)_lastId!;

    private RedisMetrics Metrics => _metrics;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        // Never waits for Redis: a node starts without it, failing closed until it has loaded the revoked set.
        _loop = Task.Run(() => RunAsync(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        if (_loop is { } loop)
        {
            await loop.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>
    /// Appends a signal already applied on this node. Returns <see langword="false"/> when Redis could not be reached
    /// within the operation timeout: the signal is then queued and appended once Redis is back.
    /// </summary>
    public async Task<bool> PublishAsync(SignOutSignal signal)
    {
        var entry = SignalEntry.Create(signal, _application, NodeId);
        try
        {
            var multiplexer = _connection.Current ?? await _connection.GetAsync(CancellationToken.None).AsTask().WaitAsync(_options.OperationTimeout, _time);
            await AppendAsync(multiplexer.GetDatabase(), entry);
            Metrics.Published();
            return true;
        }
        catch (Exception e) when (e is RedisException or TimeoutException or ObjectDisposedException)
        {
            Metrics.Failed("publish");
            Enqueue(entry);
            RedisLog.PublishFailed(_logger, e, _pending.Count);
            _state.MarkLinkDown();
            Wake();
            return false;
        }
    }

    private void Enqueue(NameValueEntry[] entry)
    {
        _pending.Enqueue(entry);
        while (_pending.Count > _options.MaxPendingSignals && _pending.TryDequeue(out _))
        {
            Metrics.Dropped();
            RedisLog.PendingDropped(_logger, _options.MaxPendingSignals);
        }

        _state.PendingCount = _pending.Count;
    }

    private async Task AppendAsync(IDatabase database, NameValueEntry[] entry)
    {
        var oldest = _time.GetUtcNow() - _retention;
        var minId = (oldest.ToUnixTimeMilliseconds() > 0 ? oldest.ToUnixTimeMilliseconds() : 0).ToString(CultureInfo.InvariantCulture) + "-0";
        var add = database.StreamAddAsync(_connection.StreamKey, entry, new StreamAddOptions { MinId = minId, Approximate = true });

        // Sent right behind the XADD on the same connection, so Redis runs it after: a woken reader finds the entry. It
        // carries the entry, so that the other nodes apply it without reading the stream first.
        _ = database.PublishAsync(_connection.Channel, SignalEntry.Message(entry), CommandFlags.FireAndForget);
        await add.WaitAsync(_options.OperationTimeout, _time);
    }

    private void Wake()
    {
        try
        {
            _wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already woken: one read covers every entry appended until then.
        }
    }

    private async Task RunAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                var multiplexer = await _connection.GetAsync(stopping).AsTask().WaitAsync(_options.OperationTimeout, _time, stopping);
                HookEvents(multiplexer);
                if (!multiplexer.IsConnected)
                {
                    throw new TimeoutException("Redis is not connected.");
                }

                var generation = _state.Generation;
                _state.MarkLinkUp();
                await FlushPendingAsync(multiplexer.GetDatabase());
                await CatchUpAsync(multiplexer.GetDatabase(), generation, stopping);
                _failures = 0;
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // Whatever went wrong, the loop goes on: the node answers from its revoked set and retries.
                _state.MarkLinkDown();
                Metrics.Failed("read");
                var backoff = TimeSpan.FromMilliseconds(Math.Min(_options.PollInterval.TotalMilliseconds, 100 * Math.Pow(2, Math.Min(_failures, 10))));
                _failures++;
                RedisLog.OperationFailed(_logger, e, "read", _failures, backoff);
                await WaitAsync(backoff, stopping);
                continue;
            }

            await WaitAsync(_options.PollInterval, stopping);
        }
    }

    private void HookEvents(IConnectionMultiplexer multiplexer)
    {
        if (_eventsHooked)
        {
            return;
        }

        _eventsHooked = true;
        multiplexer.ConnectionFailed += (_, e) =>
        {
            RedisLog.Disconnected(_logger, e.FailureType.ToString());
            _state.MarkLinkDown();
        };
        multiplexer.ConnectionRestored += (_, _) => Wake();
        var subscriber = multiplexer.GetSubscriber();
        // The multiplexer subscribes again after a reconnect; a failure here is made up for by the poll.
        _ = subscriber.SubscribeAsync(_connection.Channel, (_, message) => OnMessage(message))
            .ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
    }

    /// <summary>
    /// A channel message: the entry it carries is applied now (unless it is this node's own, or was applied already),
    /// and the loop is woken to read the stream, which it does in any case.
    /// </summary>
    private void OnMessage(RedisValue message)
    {
        try
        {
            // What the message cannot carry (a bad entry, a newer version) is left to the stream's reader, which logs
            // and counts it once.
            if (SignalEntry.ReadMessage(message) is { } entry
                && SignalEntry.Read(entry, _application, out var node, out _) is { } signal
                && !string.Equals(node, NodeId, StringComparison.Ordinal)
                && SignalEntry.EntryIdOf(entry) is { } entryId
                && _appliedIds.Count < MaxAppliedIds)
            {
                if (_appliedIds.TryAdd(entryId, _time.GetTimestamp()))
                {
                    Start(signal, loading: false, entryId);
                    Metrics.Applied((_time.GetUtcNow() - signal.CreatedAt).TotalMilliseconds);
                }
                else
                {
                    // The stream's reader was first: both paths have seen it.
                    _appliedIds.TryRemove(entryId, out _);
                }
            }
        }
        catch (Exception e)
        {
            RedisLog.ApplyFailed(_logger, e, "(channel message)");
        }

        Wake();
    }

    private async Task WaitAsync(TimeSpan delay, CancellationToken stopping)
    {
        using var timeout = new CancellationTokenSource(delay, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, stopping);
        try
        {
            await _wake.WaitAsync(linked.Token);
        }
        catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
        {
            // The poll interval passed.
        }
    }

    private async Task FlushPendingAsync(IDatabase database)
    {
        var published = 0;
        while (_pending.TryPeek(out var entry))
        {
            await AppendAsync(database, entry);
            _pending.TryDequeue(out _);
            _state.PendingCount = _pending.Count;
            Metrics.Published();
            published++;
        }

        if (published > 0)
        {
            RedisLog.PendingPublished(_logger, published);
        }
    }

    private async Task CatchUpAsync(IDatabase database, long generation, CancellationToken stopping)
    {
        var loading = !_state.IsLoaded;
        var wasCurrent = _state.IsCurrent;
        var applied = 0;
        while (!stopping.IsCancellationRequested)
        {
            var entries = await database.StreamReadAsync(_connection.StreamKey, _lastId, _options.ReadBatchSize).WaitAsync(_options.OperationTimeout, _time, stopping);
            foreach (var entry in entries)
            {
                Apply(entry, loading);
                _lastId = entry.Id;
                applied++;
            }

            if (entries.Length < _options.ReadBatchSize)
            {
                break;
            }
        }

        PruneAppliedIds();
        if (_state.TryMarkCurrent(generation) && !wasCurrent)
        {
            RedisLog.CaughtUp(_logger, applied, (string)_lastId!);
        }
    }

    private void Apply(StreamEntry entry, bool loading)
    {
        var signal = SignalEntry.Read(entry, _application, out var node, out var skip);
        if (signal is null)
        {
            Metrics.Skipped(skip);
            RedisLog.EntrySkipped(_logger, (string)entry.Id!, skip);
            return;
        }

        if (string.Equals(node, NodeId, StringComparison.Ordinal))
        {
            return;
        }

        if (!loading && SignalEntry.EntryIdOf(entry) is { } entryId)
        {
            // Applied from its channel message already, or remembered until its message arrives, so that a late message
            // is skipped. An id is forgotten once both paths saw it, or after AppliedIdLifetime. (The first read after
            // start records the whole retained stream: its ids are not remembered.)
            if (_appliedIds.TryRemove(entryId, out _))
            {
                // Applied from its channel message: both paths have seen it.
                return;
            }

            if (_appliedIds.Count < MaxAppliedIds)
            {
                _appliedIds.TryAdd(entryId, _time.GetTimestamp());
            }
        }

        Start(signal, loading, (string)entry.Id!);
        var lag = SignalEntry.TimeOf(entry.Id) is { } at ? (_time.GetUtcNow() - at).TotalMilliseconds : 0;
        Metrics.Applied(lag);
    }

    private void Start(SignOutSignal signal, bool loading, string entryId)
    {
        try
        {
            // Started, not awaited: the revocation is recorded before the first await (the revoked set is in memory),
            // and a slow client's farewell must not hold up the entries behind it.
            var task = loading ? _processor.RecordAsync(signal) : _processor.ProcessAsync(signal);
            if (!task.IsCompletedSuccessfully)
            {
                _ = ObserveAsync(task, entryId);
            }
        }
        catch (Exception e)
        {
            RedisLog.ApplyFailed(_logger, e, entryId);
        }
    }

    /// <summary>Forgets the applied entry ids older than <see cref="AppliedIdLifetime"/>, at most once a second.</summary>
    private void PruneAppliedIds()
    {
        var now = _time.GetTimestamp();
        if (now < Volatile.Read(ref _nextPrune) || _appliedIds.IsEmpty)
        {
            return;
        }

        Volatile.Write(ref _nextPrune, now + _time.TimestampFrequency);
        foreach (var (id, at) in _appliedIds)
        {
            if (_time.GetElapsedTime(at, now) > AppliedIdLifetime)
            {
                _appliedIds.TryRemove(id, out _);
            }
        }
    }

    private async Task ObserveAsync(ValueTask task, string id)
    {
        try
        {
            await task;
        }
        catch (Exception e)
        {
            RedisLog.ApplyFailed(_logger, e, id);
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Disposed twice: as itself and as the hosted service the container made from it.
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _stopping.CancelAsync();
        if (_loop is { } loop)
        {
            await loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        _stopping.Dispose();
        _wake.Dispose();
    }
}
