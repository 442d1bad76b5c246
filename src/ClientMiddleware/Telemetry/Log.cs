using Microsoft.Extensions.Logging;

namespace AutoSignOut.AspNetCore;

/// <summary>
/// AutoSignOut's log messages, with stable event ids. Session ids, subjects and tokens are personal or secret and
/// appear only at Debug.
/// </summary>
internal static partial class Log
{
    [LoggerMessage(1001, LogLevel.Information, "Back-channel logout accepted from {Issuer}.", EventName = "LogoutTokenAccepted")]
    public static partial void LogoutTokenAccepted(ILogger logger, string? issuer);

    [LoggerMessage(1002, LogLevel.Debug, "Back-channel logout refused: {Reason}.", EventName = "LogoutTokenRejected")]
    public static partial void LogoutTokenRejected(ILogger logger, LogoutTokenRejectionReason reason);

    [LoggerMessage(1005, LogLevel.Warning, "Back-channel logout refused: {Reason}; {Suppressed} more refusal(s) in the minute before were logged at Debug only (see the metric autosignout.logout_tokens.rejected).", EventName = "LogoutTokenRejectedSummary")]
    public static partial void LogoutTokenRejectedSummary(ILogger logger, LogoutTokenRejectionReason reason, long suppressed);

    [LoggerMessage(1006, LogLevel.Error, "A valid logout token could not be fully applied; answered 400 so the provider retries.", EventName = "LogoutNotApplied")]
    public static partial void LogoutNotApplied(ILogger logger, Exception exception);

    [LoggerMessage(1007, LogLevel.Information, "The issuer '{Issuer}' discovered for the provider at '{Authority}' differs from its authority; logout tokens are matched on the discovered issuer.", EventName = "DiscoveredIssuerDiffers")]
    public static partial void DiscoveredIssuerDiffers(ILogger logger, string issuer, string? authority);

    [LoggerMessage(1003, LogLevel.Debug, "Logout token details: iss {Issuer}, sub {Subject}, sid {SessionId}, jti {TokenId}.", EventName = "LogoutTokenDetails")]
    public static partial void LogoutTokenDetails(ILogger logger, string? issuer, string? subject, string? sessionId, string? tokenId);

    [LoggerMessage(1004, LogLevel.Warning, "The metadata and signing keys of the provider at '{Address}' could not be read (failure {Failures}); known keys stay in use, the next read in {Backoff}.", EventName = "KeysUnavailable")]
    public static partial void KeysUnavailable(ILogger logger, Exception exception, string? address, int failures, TimeSpan backoff);

    [LoggerMessage(2001, LogLevel.Information, "Sign-out signal from {Source} closed {Count} live connection(s) on this node in {Milliseconds:0.###} ms.", EventName = "SignalProcessed")]
    public static partial void SignalProcessed(ILogger logger, string source, int count, double milliseconds);

    [LoggerMessage(2002, LogLevel.Debug, "Sign-out signal: iss {Issuer}, sub {Subject}, sid {SessionId}, reason {Reason}.", EventName = "SignalDetails")]
    public static partial void SignalDetails(ILogger logger, string? issuer, string? subject, string? sessionId, string? reason);

    [LoggerMessage(2003, LogLevel.Debug, "Closing {Kind} {ConnectionId}.", EventName = "ClosingConnection")]
    public static partial void ClosingConnection(ILogger logger, string kind, string connectionId);

    [LoggerMessage(2004, LogLevel.Warning, "Closing {Kind} failed; the connection was aborted anyway.", EventName = "CloseFailed")]
    public static partial void CloseFailed(ILogger logger, Exception exception, string kind);

    [LoggerMessage(2005, LogLevel.Error, "The revoked-session store failed to record a signal; its live connections were closed regardless.", EventName = "StoreFailed")]
    public static partial void StoreFailed(ILogger logger, Exception exception);

    [LoggerMessage(2006, LogLevel.Warning, "The {Hook} hook failed; the sign-out went on.", EventName = "HookFailed")]
    public static partial void HookFailed(ILogger logger, Exception exception, string hook);

    [LoggerMessage(3001, LogLevel.Information, "Refused the credentials of a revoked session ({Where}, scheme {Scheme}).", EventName = "RevokedCredentialsRefused")]
    public static partial void RevokedCredentialsRefused(ILogger logger, string where, string? scheme);

    [LoggerMessage(3002, LogLevel.Debug, "Added session id to a sign-in that had none (scheme {Scheme}).", EventName = "SessionIdAdded")]
    public static partial void SessionIdAdded(ILogger logger, string? scheme);
}
