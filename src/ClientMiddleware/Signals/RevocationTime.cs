namespace AutoSignOut.AspNetCore;

/// <summary>
/// The moment of a revocation as two bounds: one on this node's clock, for credentials issued here (cookies), and one on
/// the OpenID Provider's clock, for credentials the provider timestamped (a bearer token's <c>iat</c>). A credential
/// issued at or before the bound on its own clock is covered; one of unknown age always is. The two bounds are kept
/// apart so that no comparison mixes two clocks without a margin (see the client middleware's README).
/// </summary>
public readonly record struct RevocationTime
{
    private readonly long _localTicks;
    private readonly long _providerTicks;

    /// <summary>Creates a revocation time.</summary>
    /// <param name="local">The bound on this node's clock.</param>
    /// <param name="provider">The bound on the provider's clock. Default: <paramref name="local"/>.</param>
    public RevocationTime(DateTimeOffset local, DateTimeOffset? provider = null)
    {
        _localTicks = local.UtcTicks;
        _providerTicks = (provider ?? local).UtcTicks;
    }

    private RevocationTime(long localTicks, long providerTicks)
    {
        _localTicks = localTicks;
        _providerTicks = providerTicks;
    }

    /// <summary>Credentials issued on this node at or before this moment are covered.</summary>
    public DateTimeOffset Local => new(_localTicks, TimeSpan.Zero);

    /// <summary>Credentials the provider timestamped at or before this moment (its clock) are covered.</summary>
    public DateTimeOffset Provider => new(_providerTicks, TimeSpan.Zero);

    internal long LocalTicks => _localTicks;

    internal long ProviderTicks => _providerTicks;

    /// <summary>Converts a moment on this node's clock, used for both bounds.</summary>
    /// <param name="at">The moment.</param>
    public static implicit operator RevocationTime(DateTimeOffset at) => new(at);

    /// <summary>Creates a revocation time whose bounds are both <paramref name="at"/> (the named alternative of the conversion).</summary>
    /// <param name="at">The moment.</param>
    public static RevocationTime FromDateTimeOffset(DateTimeOffset at) => new(at);

    /// <summary>Whether a credential issued at <paramref name="issuedAt"/> is covered.</summary>
    /// <param name="issuedAt">When the credential was issued.</param>
    public bool Covers(IssueTime issuedAt) => Covers(issuedAt.Clock, issuedAt.Ticks, _localTicks, _providerTicks);

    internal static bool Covers(IssueTimeClock clock, long issuedTicks, long localTicks, long providerTicks) => clock switch
    {
        IssueTimeClock.Local => issuedTicks <= localTicks,
        IssueTimeClock.Provider => issuedTicks <= providerTicks,
        _ => true,
    };

    /// <summary>The later of two revocations, bound by bound: it covers everything either covers.</summary>
    internal static RevocationTime Max(RevocationTime a, RevocationTime b) =>
        new(Math.Max(a._localTicks, b._localTicks), Math.Max(a._providerTicks, b._providerTicks));
}
