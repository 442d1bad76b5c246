using System.Data.Common;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace IdpBench;

/// <summary>Counts the SQL commands (and the writes among them) and the commits that requests to one path run, and their time in SQLite.</summary>
internal sealed class SqlCounter(IHttpContextAccessor http, string path) : DbCommandInterceptor, IDbTransactionInterceptor
{
    private long _commands;
    private long _writes;
    private long _ticks;
    private long _commits;
    private long _commitTicks;

    public (long Commands, long Writes, TimeSpan Time, long Commits, TimeSpan CommitTime) Snapshot() =>
        (Interlocked.Read(ref _commands), Interlocked.Read(ref _writes), TimeSpan.FromTicks(Interlocked.Read(ref _ticks)), Interlocked.Read(ref _commits), TimeSpan.FromTicks(Interlocked.Read(ref _commitTicks)));

    public void TransactionCommitted(DbTransaction transaction, TransactionEndEventData eventData) => CountCommit(eventData);

    public Task TransactionCommittedAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        CountCommit(eventData);
        return Task.CompletedTask;
    }

    public override DbDataReader ReaderExecuted(DbCommand command, CommandExecutedEventData eventData, DbDataReader result)
    {
        Count(command, eventData);
        return result;
    }

    public override ValueTask<DbDataReader> ReaderExecutedAsync(DbCommand command, CommandExecutedEventData eventData, DbDataReader result, CancellationToken cancellationToken = default)
    {
        Count(command, eventData);
        return ValueTask.FromResult(result);
    }

    public override int NonQueryExecuted(DbCommand command, CommandExecutedEventData eventData, int result)
    {
        Count(command, eventData);
        return result;
    }

    public override ValueTask<int> NonQueryExecutedAsync(DbCommand command, CommandExecutedEventData eventData, int result, CancellationToken cancellationToken = default)
    {
        Count(command, eventData);
        return ValueTask.FromResult(result);
    }

    public override object? ScalarExecuted(DbCommand command, CommandExecutedEventData eventData, object? result)
    {
        Count(command, eventData);
        return result;
    }

    public override ValueTask<object?> ScalarExecutedAsync(DbCommand command, CommandExecutedEventData eventData, object? result, CancellationToken cancellationToken = default)
    {
        Count(command, eventData);
        return ValueTask.FromResult(result);
    }

    private void CountCommit(TransactionEndEventData eventData)
    {
        if (http.HttpContext?.Request.Path == path)
        {
            Interlocked.Increment(ref _commits);
            Interlocked.Add(ref _commitTicks, eventData.Duration.Ticks);
        }
    }

    private void Count(DbCommand command, CommandExecutedEventData eventData)
    {
        if (http.HttpContext?.Request.Path != path)
        {
            return;
        }

        Interlocked.Increment(ref _commands);
        if (!command.CommandText.TrimStart().StartsWith("SELECT", StringComparison.OrdinalIgnoreCase))
        {
            Interlocked.Increment(ref _writes);
        }

        Interlocked.Add(ref _ticks, eventData.Duration.Ticks);
    }
}
