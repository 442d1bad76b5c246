using Microsoft.Extensions.Options;

namespace AutoSignOut.AspNetCore;

/// <summary>
/// Signs sessions out from application code — a password-change or admin screen — without an OpenID Provider.
/// The signal travels the same way as a back-channel logout: every node closes the matching live connections and
/// refuses the same credentials from then on. Sessions are named by issuer and id, as the specification locates them:
/// without an issuer, the app's own sessions are meant (<see cref="AutoSignOutOptions.LocalIssuer"/>); a provider's
/// user of the same name is another user, reached only with that provider's issuer (<see cref="SessionClaims.FindIssuer"/>).
/// </summary>
public interface IAutoSignOutService
{
    /// <summary>Signs out one session, by its <c>sid</c> (see <see cref="SessionClaims.FindSessionId"/>).</summary>
    /// <param name="sessionId">The session id.</param>
    /// <param name="reason">Why, shown to the user and kept for audit. Default: <c>signed_out</c>.</param>
    /// <param name="issuer">The issuer of the session. Default: <see cref="AutoSignOutOptions.LocalIssuer"/>, the app's own sign-ins.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    ValueTask SignOutSessionAsync(string sessionId, string? reason = null, string? issuer = null, CancellationToken cancellationToken = default);

    /// <summary>Signs out every session of a user issued until now ("sign out everywhere"); a later sign-in works.</summary>
    /// <param name="subject">The user's subject id (<c>sub</c>).</param>
    /// <param name="reason">Why. Default: <c>signed_out_everywhere</c>.</param>
    /// <param name="issuer">The issuer of the user. Default: <see cref="AutoSignOutOptions.LocalIssuer"/>, the app's own sign-ins.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    ValueTask SignOutEverywhereAsync(string subject, string? reason = null, string? issuer = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Publishes a signal built by the caller, such as one that names token ids. <see cref="SignOutSignal.Issuer"/>
    /// <see langword="null"/> means every issuer.
    /// </summary>
    /// <param name="signal">
    /// The signal: it must name a session, subject or token id; <see cref="SignOutSignal.CreatedAt"/> defaults to now and
    /// may not lie in the future beyond the clock skew; <see cref="SignOutSignal.Source"/> must be one of
    /// <see cref="SignOutSignalSources"/>.
    /// </param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <exception cref="ArgumentException">The signal breaks one of these rules.</exception>
    ValueTask PublishAsync(SignOutSignal signal, CancellationToken cancellationToken = default);
}

/// <summary>The default <see cref="IAutoSignOutService"/>: builds the signal and publishes it on the bus.</summary>
internal sealed class AutoSignOutService(ISignOutSignalBus bus, IOptions<AutoSignOutOptions> options, TimeProvider time) : IAutoSignOutService
{
    private readonly AutoSignOutOptions _options = options.Value;

    public ValueTask SignOutSessionAsync(string sessionId, string? reason = null, string? issuer = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(sessionId);
        return PublishAsync(new SignOutSignal { Issuer = issuer ?? _options.LocalIssuer, SessionId = sessionId, Reason = reason ?? "signed_out" }, cancellationToken);
    }

    public ValueTask SignOutEverywhereAsync(string subject, string? reason = null, string? issuer = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(subject);
        return PublishAsync(new SignOutSignal { Issuer = issuer ?? _options.LocalIssuer, Subject = subject, Reason = reason ?? "signed_out_everywhere" }, cancellationToken);
    }

    public ValueTask PublishAsync(SignOutSignal signal, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(signal);
        if (string.IsNullOrEmpty(signal.SessionId) && string.IsNullOrEmpty(signal.Subject) && !signal.TokenIds.Any(static t => !string.IsNullOrEmpty(t)))
        {
            throw new ArgumentException("The signal names no session, subject or token id, so it would sign nothing out.", nameof(signal));
        }

        if (!SignOutSignalSources.IsKnown(signal.Source))
        {
            throw new ArgumentException($"The source must be '{SignOutSignalSources.Application}' or '{SignOutSignalSources.BackChannelLogout}'.", nameof(signal));
        }

        var now = time.GetUtcNow();
        if (signal.CreatedAt == default)
        {
            signal = signal with { CreatedAt = now };
        }
        else if (signal.CreatedAt > now + _options.ClockSkew)
        {
            throw new ArgumentException("CreatedAt lies in the future: the sessions it names would be locked out until then.", nameof(signal));
        }

        return bus.PublishAsync(signal, cancellationToken);
    }
}
