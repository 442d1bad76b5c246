using AutoSignOut.IdentityServer.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace AutoSignOut.IdentityServer.Duende.Tests.Infrastructure;

/// <summary>
/// Fails the storing of logout notifications: in the flow that turned it on (<see cref="Begin"/>, any IdP: a failure after
/// Duende's deletion was written and before anything committed), or in every flow of one IdP while
/// <see cref="FailAll"/> is set (the outbox unreachable for a while).
/// </summary>
internal sealed class FailingOutboxWrites : SaveChangesInterceptor
{
    private static readonly AsyncLocal<bool> Enabled = new();
    private volatile bool _failAll;

    /// <summary>Whether every outbox insert of the IdP this interceptor belongs to fails.</summary>
    public bool FailAll
    {
        get => _failAll;
        set => _failAll = value;
    }

    /// <summary>Fails the outbox writes of the current flow until disposed.</summary>
    public static IDisposable Begin()
    {
        Enabled.Value = true;
        return new Off();
    }

    public override ValueTask<InterceptionResult<int>> SavingChangesAsync(DbContextEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default)
    {
        if ((Enabled.Value || _failAll) && eventData.Context?.ChangeTracker.Entries<LogoutOutboxEntry>().Any(e => e.State == EntityState.Added) == true)
        {
            throw new InvalidOperationException("injected: the outbox write fails");
        }

        return base.SavingChangesAsync(eventData, result, cancellationToken);
    }

    private sealed class Off : IDisposable
    {
        public void Dispose() => Enabled.Value = false;
    }
}
