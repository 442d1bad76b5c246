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

    [LoggerMessage(1002, LogLevel.Warning, "Back-channel logout refused: {Reason}.", EventName = "LogoutTokenRejected")]
    public static partial void LogoutTokenRejected(ILogger logger, LogoutTokenRejectionReason reason);

    [LoggerMessage(1003, LogLevel.Debug, "Logout token details: iss {Issuer}, sub {Subject}, sid {SessionId}, jti {TokenId}.", EventName = "LogoutTokenDetails")]
    public static partial void LogoutTokenDetails(ILogger logger, string? issuer, string? subject, string? sessionId, string? tokenId);

    [LoggerMessage(1004, LogLevel.Error, "The signing keys of {Issuer} could not be read.", EventName = "KeysUnavailable")]
    public static partial void KeysUnavailable(ILogger logger, string? issuer);

    [LoggerMessage(2001, LogLevel.Information, "Sign-out signal from {Source} closed {Count} live connection(s) on this node in {Milliseconds:0.###} ms.", EventName = "SignalProcessed")]
    public static partial void SignalProcessed(ILogger logger, string source, int count, double milliseconds);

    [LoggerMessage(2002, LogLevel.Debug, "Sign-out signal: iss {Issuer}, sub {Subject}, sid {SessionId}, reason {Reason}.", EventName = "SignalDetails")]
    public static partial void SignalDetails(ILogger logger, string? issuer, string? subject, string? sessionId, string? reason);

    [LoggerMessage(2003, LogLevel.Debug, "Closing {Kind} {ConnectionId}.", EventName = "ClosingConnection")]
    public static partial void ClosingConnection(ILogger logger, string kind, string connectionId);

    [LoggerMessage(2004, LogLevel.Warning, "Closing {Kind} failed; the connection was aborted anyway.", EventName = "CloseFailed")]
    public static partial void CloseFailed(ILogger logger, Exception exception, string kind);

    [LoggerMessage(3001, LogLevel.Information, "Refused the credentials of a revoked session ({Where}, scheme {Scheme}).", EventName = "RevokedCredentialsRefused")]
    public static partial void RevokedCredentialsRefused(ILogger logger, string where, string? scheme);

    [LoggerMessage(3002, LogLevel.Debug, "Added session id to a sign-in that had none (scheme {Scheme}).", EventName = "SessionIdAdded")]
    public static partial void SessionIdAdded(ILogger logger, string? scheme);
}
