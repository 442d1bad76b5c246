namespace AutoSignOut.AspNetCore;

/// <summary>
/// Hooks into AutoSignOut. Set the delegates, or derive and override the methods and set
/// <see cref="AutoSignOutOptions.Events"/> to an instance.
/// </summary>
public class AutoSignOutEvents
{
    /// <summary>
    /// Called for every signal processed on this node, once its connections were closed. For auditing. An exception is
    /// logged and does not undo or stop the sign-out.
    /// </summary>
    public Func<SignOutSignalContext, Task> OnSignal { get; set; } = static _ => Task.CompletedTask;

    /// <summary>Called for every live connection a signal is about to close. An exception is logged; the connection closes regardless.</summary>
    public Func<ClosingConnectionContext, Task> OnClosingConnection { get; set; } = static _ => Task.CompletedTask;

    /// <summary>Called when a logout token is refused, with the reason.</summary>
    public Func<LogoutTokenRejectedContext, Task> OnLogoutTokenRejected { get; set; } = static _ => Task.CompletedTask;

    /// <summary>Invokes <see cref="OnSignal"/>.</summary>
    /// <param name="context">The context.</param>
    public virtual Task SignalAsync(SignOutSignalContext context) => OnSignal(context);

    /// <summary>Invokes <see cref="OnClosingConnection"/>.</summary>
    /// <param name="context">The context.</param>
    public virtual Task ClosingConnectionAsync(ClosingConnectionContext context) => OnClosingConnection(context);

    /// <summary>Invokes <see cref="OnLogoutTokenRejected"/>.</summary>
    /// <param name="context">The context.</param>
    public virtual Task LogoutTokenRejectedAsync(LogoutTokenRejectedContext context) => OnLogoutTokenRejected(context);
}

/// <summary>The context of <see cref="AutoSignOutEvents.OnSignal"/>.</summary>
/// <param name="Signal">The signal.</param>
/// <param name="Services">The application's services.</param>
public sealed record SignOutSignalContext(SignOutSignal Signal, IServiceProvider Services);

/// <summary>The context of <see cref="AutoSignOutEvents.OnClosingConnection"/>.</summary>
/// <param name="Signal">The signal that closes the connection.</param>
/// <param name="Connection">The connection about to close.</param>
public sealed record ClosingConnectionContext(SignOutSignal Signal, LiveConnection Connection);

/// <summary>The context of <see cref="AutoSignOutEvents.OnLogoutTokenRejected"/>.</summary>
/// <param name="HttpContext">The back-channel request.</param>
/// <param name="Reason">Why the token or request was refused.</param>
/// <param name="Description">A description of the broken rule, as sent in <c>error_description</c>.</param>
public sealed record LogoutTokenRejectedContext(Microsoft.AspNetCore.Http.HttpContext HttpContext, LogoutTokenRejectionReason Reason, string Description);
