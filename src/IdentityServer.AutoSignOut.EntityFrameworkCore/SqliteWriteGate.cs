using System.Collections.Concurrent;
using Microsoft.EntityFrameworkCore;

namespace AutoSignOut.IdentityServer.EntityFrameworkCore;

/// <summary>
/// SQLite allows one writer at a time and answers a second with "busy", which its ADO.NET provider retries after
/// sleeping; queueing this process's writes to one database file in memory keeps them from sleeping on each other.
/// Other providers lock rows, not the database, and pass straight through.
/// </summary>
internal static class SqliteWriteGate
{
    private static readonly ConcurrentDictionary<string, SemaphoreSlim> Gates = new(StringComparer.Ordinal);

    public static async ValueTask<IDisposable?> EnterAsync(DbContext db, CancellationToken cancellationToken)
    {
        if (db.Database.ProviderName != "Microsoft.EntityFrameworkCore.Sqlite")
        {
            return null;
        }

        var gate = Gates.GetOrAdd(db.Database.GetConnectionString() ?? "", static _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new Release(gate);
    }

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
}
