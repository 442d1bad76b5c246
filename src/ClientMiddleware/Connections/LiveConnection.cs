namespace AutoSignOut.AspNetCore;

/// <summary>
/// A live connection opened by an authenticated principal — a SignalR hub connection, a Blazor Server circuit or
/// an application's own kind — registered in the <see cref="LiveConnectionRegistry"/> under its keys.
/// </summary>
public abstract class LiveConnection
{
    private int _signedOut;

    /// <summary>Creates a live connection.</summary>
    /// <param name="issuer">The issuer of the principal's session (see <see cref="SessionClaims.FindIssuer"/>).</param>
    /// <param name="keys">The keys the connection is registered under.</param>
    /// <param name="issuedAt">When the credentials that opened the connection were issued; <see cref="IssueTime.Unknown"/> counts as old.</param>
    protected LiveConnection(string? issuer, IReadOnlyList<ConnectionKey> keys, IssueTime issuedAt)
    {
        ArgumentNullException.ThrowIfNull(keys);
        Issuer = issuer;
        Keys = keys;
        IssuedAt = issuedAt;
    }

    /// <summary>The issuer of the session that opened the connection.</summary>
    public string? Issuer { get; }

    /// <summary>The keys the connection is registered under.</summary>
    public IReadOnlyList<ConnectionKey> Keys { get; }

    /// <summary>When the credentials that opened the connection were issued.</summary>
    public IssueTime IssuedAt { get; }

    /// <summary>Whether a signal has signed this connection out. It stops acting for the user from then on.</summary>
    public bool IsSignedOut => Volatile.Read(ref _signedOut) != 0;

    /// <summary>The kind of connection for telemetry, such as <c>hub</c> or <c>circuit</c>.</summary>
    public abstract string Kind { get; }

    /// <summary>An id of the connection for logs (the SignalR connection id, the circuit id).</summary>
    public abstract string Id { get; }

    /// <summary>Marks the connection signed out. Returns <see langword="false"/> when it already was.</summary>
    internal bool TryMarkSignedOut() => Interlocked.Exchange(ref _signedOut, 1) == 0;

    /// <summary>
    /// Whether a signal for <paramref name="issuer"/> revoked at <paramref name="revokedAt"/> applies to this connection:
    /// same issuer (or a signal for any issuer) and credentials issued no later than the revocation on their own clock,
    /// or of any age when the key names the very token (<paramref name="anyAge"/>, a <c>jti</c>).
    /// </summary>
    internal bool IsCoveredBy(string? issuer, RevocationTime revokedAt, bool anyAge) =>
        (issuer is null || string.Equals(issuer, Issuer, StringComparison.Ordinal)) && (anyAge || revokedAt.Covers(IssuedAt));

    /// <summary>
    /// Tells the client why it was signed out and closes the connection server-side, whatever the client does.
    /// Called at most once per connection.
    /// </summary>
    /// <param name="signal">The signal that signed the connection out.</param>
    /// <param name="cancellationToken">Cancels the notification; the connection is closed regardless.</param>
    protected internal abstract ValueTask CloseAsync(SignOutSignal signal, CancellationToken cancellationToken);
}
