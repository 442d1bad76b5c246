namespace AutoSignOut.AspNetCore;

/// <summary>
/// When a credential (cookie ticket, bearer token) was issued, and on whose clock: this node's (a sign-in recorded
/// here), the OpenID Provider's (a token's <c>iat</c>), or unknown. A credential of unknown age counts as old: every
/// revocation of its keys covers it.
/// </summary>
public readonly record struct IssueTime
{
    private readonly long _ticks;

    private IssueTime(DateTimeOffset at, IssueTimeClock clock)
    {
        _ticks = at.UtcTicks;
        Clock = clock;
    }

    /// <summary>An unknown issue time: covered by every revocation of the credential's keys.</summary>
    public static IssueTime Unknown => default;

    /// <summary>On whose clock <see cref="At"/> was read; <see cref="IssueTimeClock.Unknown"/> when it was not.</summary>
    public IssueTimeClock Clock { get; }

    /// <summary>The moment, or <see langword="null"/> when unknown.</summary>
    public DateTimeOffset? At => Clock == IssueTimeClock.Unknown ? null : new DateTimeOffset(_ticks, TimeSpan.Zero);

    /// <summary>The moment in UTC ticks; 0 when unknown.</summary>
    internal long Ticks => Clock == IssueTimeClock.Unknown ? 0 : _ticks;

    /// <summary>A moment read on this node's clock, such as a sign-in recorded here.</summary>
    /// <param name="at">The moment.</param>
    public static IssueTime Local(DateTimeOffset at) => new(at, IssueTimeClock.Local);

    /// <summary>A moment read on the OpenID Provider's clock, such as a token's <c>iat</c>.</summary>
    /// <param name="at">The moment.</param>
    public static IssueTime Provider(DateTimeOffset at) => new(at, IssueTimeClock.Provider);

    /// <summary>Converts a moment on this node's clock (see <see cref="Local"/>).</summary>
    /// <param name="at">The moment.</param>
    public static implicit operator IssueTime(DateTimeOffset at) => Local(at);

    /// <summary>Returns the moment and its clock, for logs.</summary>
    public override string ToString() => Clock == IssueTimeClock.Unknown ? "unknown" : $"{At:O} ({Clock})";
}

/// <summary>The clock an <see cref="IssueTime"/> was read on.</summary>
public enum IssueTimeClock
{
    /// <summary>Not known.</summary>
    Unknown,

    /// <summary>This node's clock.</summary>
    Local,

    /// <summary>The clock of the OpenID Provider that issued the credential.</summary>
    Provider,
}
