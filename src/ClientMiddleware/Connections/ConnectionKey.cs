namespace AutoSignOut.AspNetCore;

/// <summary>
/// A key under which live connections are registered and which a sign-out signal resolves to,
/// for example <c>sid:8f3a…</c>, <c>sub:alice</c> or <c>jti:…</c>.
/// </summary>
/// <param name="Type">The kind of key: <see cref="SessionType"/>, <see cref="SubjectType"/>, <see cref="TokenType"/> or an application's own.</param>
/// <param name="Value">The value, such as the session id.</param>
public readonly record struct ConnectionKey(string Type, string Value)
{
    /// <summary>The key type of a session id: <c>sid</c>.</summary>
    public const string SessionType = "sid";

    /// <summary>The key type of a subject (user) id: <c>sub</c>.</summary>
    public const string SubjectType = "sub";

    /// <summary>The key type of a token id: <c>jti</c>.</summary>
    public const string TokenType = "jti";

    /// <summary>Creates a <c>sid</c> key.</summary>
    /// <param name="sessionId">The session id.</param>
    public static ConnectionKey Session(string sessionId) => new(SessionType, sessionId);

    /// <summary>Creates a <c>sub</c> key.</summary>
    /// <param name="subject">The subject id.</param>
    public static ConnectionKey Subject(string subject) => new(SubjectType, subject);

    /// <summary>Creates a <c>jti</c> key.</summary>
    /// <param name="tokenId">The token id.</param>
    public static ConnectionKey Token(string tokenId) => new(TokenType, tokenId);

    /// <summary>Returns <c>{Type}:{Value}</c>.</summary>
    public override string ToString() => Type + ":" + Value;
}
