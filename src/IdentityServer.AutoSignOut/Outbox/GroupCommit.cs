namespace AutoSignOut.IdentityServer;

/// <summary>
/// Group commit: writes that arrive while one is in progress are combined into the next write, so the store sees
/// one transaction per burst instead of one per item, and an idle system still writes each item at once.
/// </summary>
internal sealed class GroupCommit<T>
{
    private readonly Func<IReadOnlyList<T>, CancellationToken, ValueTask> _write;
    private readonly int _maxBatch;
    private readonly Lock _gate = new();
    private List<(T Item, TaskCompletionSource Done)> _waiting = [];
    private bool _writing;

    public GroupCommit(Func<IReadOnlyList<T>, CancellationToken, ValueTask> write, int maxBatch)
    {
        _write = write;
        _maxBatch = maxBatch;
    }

    /// <summary>Queues <paramref name="items"/>; completes when they are written, or fails with the write.</summary>
    public Task AddAsync(IReadOnlyList<T> items)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        bool startWriter;
        lock (_gate)
        {
            foreach (var item in items)
            {
                _waiting.Add((item, done));
            }

            startWriter = !_writing;
            _writing = true;
        }

        if (startWriter)
        {
            _ = Task.Run(WriteAllAsync);
        }

        return done.Task;
    }

    private async Task WriteAllAsync()
    {
        while (true)
        {
            List<(T Item, TaskCompletionSource Done)> batch;
            lock (_gate)
            {
                if (_waiting.Count == 0)
                {
                    _writing = false;
                    return;
                }

                if (_waiting.Count <= _maxBatch)
                {
                    batch = _waiting;
                    _waiting = [];
                }
                else
                {
                    // Never split one caller's items across batches: cut after the last item of a caller.
                    var cut = _maxBatch;
                    while (cut < _waiting.Count && ReferenceEquals(_waiting[cut].Done, _waiting[cut - 1].Done))
                    {
                        cut++;
                    }

                    batch = _waiting[..cut];
                    _waiting.RemoveRange(0, cut);
                }
            }

            var items = new T[batch.Count];
            for (var i = 0; i < batch.Count; i++)
            {
                items[i] = batch[i].Item;
            }

            try
            {
                await _write(items, CancellationToken.None).ConfigureAwait(false);
                foreach (var (_, done) in batch)
                {
                    done.TrySetResult();
                }
            }
#pragma warning disable CA1031 // The failure belongs to the callers of this batch; the writer goes on with the next.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                await RetryCallersSeparatelyAsync(batch, ex).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// One caller's bad item must not fail the others it happened to share a batch with: each caller's items are
    /// written again on their own, and only the callers whose own write fails see an exception.
    /// </summary>
    private async Task RetryCallersSeparatelyAsync(List<(T Item, TaskCompletionSource Done)> batch, Exception batchFailure)
    {
        var callers = batch.GroupBy(e => e.Done).ToList();
        if (callers.Count == 1)
        {
            callers[0].Key.TrySetException(batchFailure);
            return;
        }

        foreach (var caller in callers)
        {
            try
            {
                await _write([.. caller.Select(e => e.Item)], CancellationToken.None).ConfigureAwait(false);
                caller.Key.TrySetResult();
            }
#pragma warning disable CA1031 // This caller's own failure, handed to it.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                caller.Key.TrySetException(ex);
            }
        }
    }
}
