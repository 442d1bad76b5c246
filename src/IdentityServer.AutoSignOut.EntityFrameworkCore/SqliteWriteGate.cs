using System.Collections.Concurrent;
using Microsoft.EntityFrameworkCore;

namespace AutoSignOut.IdentityServer.EntityFrameworkCore;

/// <summary>
/// SQLite allows one writer at a time and answers a second with "busy", which its ADO.NET provider retries after
/// sleeping; queueing this process's writes to one database file in memory keeps them from sleeping on each other.
/// Other providers lock rows, not the database, and pass straight through.
/// </summary>
/// <remarks>
/// Microsoft.Data.Sqlite runs its "async" calls synchronously, so a write blocks the thread that runs it. The engine's
/// frequent writes (<see cref="RunAsync{T}"/>) therefore run on a thread of their own per database file rather than on
/// the thread pool: on a machine with few cores the pool starts with as many threads as cores, and a pool thread
/// held by SQLite most of the time left a sign-out's continuation waiting for the pool to grow (on two cores the
/// revocation call's p99 fell from 160-410 ms to 76-89 ms with the pool's minimum raised; with this thread instead,
/// from 64-79 ms to 50-56 ms beside two CPU-bound processes and from 32-41 ms to 28-30 ms without them; see
/// bench/ServerBench/RESULTS.md).
/// </remarks>
internal static class SqliteWriteGate
{
    private static readonly ConcurrentDictionary<string, SemaphoreSlim> Gates = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, WriterThread> Writers = new(StringComparer.Ordinal);

    public static async ValueTask<IDisposable?> EnterAsync(DbContext db, CancellationToken cancellationToken)
    {
        if (!IsSqlite(db))
        {
            return null;
        }

        var gate = Gates.GetOrAdd(db.Database.GetConnectionString() ?? "", static _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new Release(gate);
    }

    /// <summary>
    /// Runs <paramref name="write"/> under the gate; on SQLite, on the database file's writer thread, and the caller
    /// resumes on the thread pool.
    /// </summary>
    public static async Task<T> RunAsync<T>(DbContext db, Func<CancellationToken, Task<T>> write, CancellationToken cancellationToken)
    {
        if (!IsSqlite(db))
        {
            return await write(cancellationToken).ConfigureAwait(false);
        }

        var key = db.Database.GetConnectionString() ?? "";
        using (await EnterAsync(db, cancellationToken).ConfigureAwait(false))
        {
            return await Writers.GetOrAdd(key, static _ => new WriterThread()).RunAsync(write, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc cref="RunAsync{T}"/>
    public static Task RunAsync(DbContext db, Func<CancellationToken, Task> write, CancellationToken cancellationToken)
        => RunAsync(
            db,
            async ct =>
            {
                await write(ct).ConfigureAwait(false);
                return true;
            },
            cancellationToken);

    private static bool IsSqlite(DbContext db) => db.Database.ProviderName == "Microsoft.EntityFrameworkCore.Sqlite";

    private sealed class Release(SemaphoreSlim gate) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                gate.Release();
            }
        }
    }

    /// <summary>
    /// A thread that runs one database file's writes one after the other; it ends after a while without work and
    /// starts again with the next write, so that files a process no longer writes hold no thread.
    /// </summary>
    private sealed class WriterThread
    {
        private static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(30);
        private readonly object _lock = new();
        private readonly Queue<Action> _queue = new();
        private bool _running;

        public Task<T> RunAsync<T>(Func<CancellationToken, Task<T>> write, CancellationToken cancellationToken)
        {
            var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
            void Run()
            {
                if (cancellationToken.IsCancellationRequested)
                {
                    done.TrySetCanceled(cancellationToken);
                    return;
                }

                try
                {
                    // Completes synchronously on SQLite; should a provider ever yield, this thread waits, not the pool.
                    done.TrySetResult(write(cancellationToken).GetAwaiter().GetResult());
                }
                catch (OperationCanceledException ex)
                {
                    done.TrySetCanceled(ex.CancellationToken);
                }
#pragma warning disable CA1031 // Handed to the caller.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    done.TrySetException(ex);
                }
            }

            lock (_lock)
            {
                _queue.Enqueue(Run);
                if (_running)
                {
                    Monitor.Pulse(_lock);
                }
                else
                {
                    _running = true;
                    new Thread(Loop) { IsBackground = true, Name = "AutoSignOut SQLite writer" }.Start();
                }
            }

            return done.Task;
        }

        private void Loop()
        {
            while (true)
            {
                Action next;
                lock (_lock)
                {
                    while (_queue.Count == 0)
                    {
                        if (!Monitor.Wait(_lock, IdleTimeout) && _queue.Count == 0)
                        {
                            _running = false;
                            return;
                        }
                    }

                    next = _queue.Dequeue();
                }

                next();
            }
        }
    }
}
