namespace AutoSignOut.AspNetCore;

/// <summary>
/// Signs sessions out from application code — a password-change or admin screen — without an OpenID Provider.
/// The signal travels the same way as a back-channel logout: every node closes the matching live connections and
/// refuses the same credentials from then on.
/// </summary>
public interface IAutoSignOutService
{
    /// <summary>Signs out one session, by its <c>sid</c> (see <see cref="SessionClaims.FindSessionId"/>).</summary>
    /// <param name="sessionId">The session id.</param>
    /// <param name="reason">Why, shown to the user and kept for audit. Default: <c>signed_out</c>.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    ValueTask SignOutSessionAsync(string sessionId, string? reason = null, CancellationToken cancellationToken = default);

    /// <summary>Signs out every session of a user issued until now ("sign out everywhere"); a later sign-in works.</summary>
    /// <param name="subject">The user's subject id (<c>sub</c>).</param>
    /// <param name="reason">Why. Default: <c>signed_out_everywhere</c>.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    ValueTask SignOutEverywhereAsync(string subject, string? reason = null, CancellationToken cancellationToken = default);

    /// <summary>Publishes a signal built by the caller, such as one that names token ids or an issuer.</summary>
    /// <param name="signal">The signal; <see cref="SignOutSignal.CreatedAt"/> defaults to now.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    ValueTask PublishAsync(SignOutSignal signal, CancellationToken cancellationToken = default);
}

/// <summary>The default <see cref="IAutoSignOutService"/>: builds the signal and publishes it on the bus.</summary>
internal sealed class AutoSignOutService(ISignOutSignalBus bus, TimeProvider time) : IAutoSignOutService
{
    public ValueTask SignOutSessionAsync(string sessionId, string? reason = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(sessionId);
        return PublishAsync(new SignOutSignal { SessionId = sessionId, Reason = reason ?? "signed_out" }, cancellationToken);
    }

    public ValueTask SignOutEverywhereAsync(string subject, string? reason = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(subject);
        return PublishAsync(new SignOutSignal { Subject = subject, Reason = reason ?? "signed_out_everywhere" }, cancellationToken);
    }

    public ValueTask PublishAsync(SignOutSignal signal, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(signal);
        if (signal.CreatedAt == default)
        {
            signal = signal with { CreatedAt = time.GetUtcNow() };
        }

        return bus.PublishAsync(signal, cancellationToken);
    }
}
