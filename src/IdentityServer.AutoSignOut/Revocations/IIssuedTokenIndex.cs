namespace AutoSignOut.IdentityServer;

/// <summary>
/// An access or refresh token the IdP issued, remembered by its <c>jti</c> so that a later revocation of the subject
/// or session can name it in <c>revoked_jti</c> (clients close connections authenticated by that bearer token).
/// </summary>
/// <param name="TokenId">The token's <c>jti</c>.</param>
/// <param name="ClientId">The client it was issued to.</param>
/// <param name="Subject">Its subject, when it has one.</param>
/// <param name="SessionId">Its session, when it has one.</param>
/// <param name="ExpiresAt">When it expires; after that it needs no revoking and is forgotten.</param>
public sealed record IssuedToken(string TokenId, string ClientId, string? Subject, string? SessionId, DateTimeOffset ExpiresAt);

/// <summary>
/// The jti index: which tokens are live for a subject or session. A binding records tokens as the IdP issues them;
/// the engine looks them up when a revocation names no token ids itself.
/// </summary>
public interface IIssuedTokenIndex
{
    /// <summary>Remembers an issued token until it expires.</summary>
    /// <param name="token">The token.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    ValueTask RecordAsync(IssuedToken token, CancellationToken cancellationToken);

    /// <summary>
    /// Returns the tokens, unexpired at <paramref name="now"/>, of <paramref name="sessionId"/> when given, else of
    /// <paramref name="subject"/>.
    /// </summary>
    /// <param name="subject">The subject, or <see langword="null"/>.</param>
    /// <param name="sessionId">The session, or <see langword="null"/>.</param>
    /// <param name="now">The current time.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    ValueTask<IReadOnlyList<IssuedToken>> FindAsync(string? subject, string? sessionId, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Forgets tokens that expired before <paramref name="now"/>; returns how many.</summary>
    /// <param name="now">The current time.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    ValueTask<int> RemoveExpiredAsync(DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// Finds the recorded tokens among <paramref name="tokenIds"/>, so that a revocation naming its tokens tells each
    /// client only its own. The default finds none (every named id then goes to every client).
    /// </summary>
    /// <param name="tokenIds">The token ids a revocation names.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The tokens the index knows, live or not.</returns>
    ValueTask<IReadOnlyList<IssuedToken>> FindByIdsAsync(IReadOnlyCollection<string> tokenIds, CancellationToken cancellationToken)
        => ValueTask.FromResult<IReadOnlyList<IssuedToken>>([]);
}

/// <summary>An <see cref="IIssuedTokenIndex"/> in process memory, for tests and single-process IdPs.</summary>
public sealed class InMemoryIssuedTokenIndex : IIssuedTokenIndex
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, IssuedToken> _tokens = new(StringComparer.Ordinal);

    /// <inheritdoc/>
    public ValueTask RecordAsync(IssuedToken token, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(token);
        lock (_gate)
        {
            _tokens[token.TokenId] = token;
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<IssuedToken>> FindAsync(string? subject, string? sessionId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            IReadOnlyList<IssuedToken> found = [.. _tokens.Values.Where(t => t.ExpiresAt > now && (sessionId is not null ? t.SessionId == sessionId : subject is not null && t.Subject == subject))];
            return ValueTask.FromResult(found);
        }
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<IssuedToken>> FindByIdsAsync(IReadOnlyCollection<string> tokenIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tokenIds);
        lock (_gate)
        {
            IReadOnlyList<IssuedToken> found = [.. tokenIds.Select(id => _tokens.GetValueOrDefault(id)).OfType<IssuedToken>()];
            return ValueTask.FromResult(found);
        }
    }

    /// <inheritdoc/>
    public ValueTask<int> RemoveExpiredAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var expired = _tokens.Values.Where(t => t.ExpiresAt <= now).Select(t => t.TokenId).ToList();
            foreach (var id in expired)
            {
                _tokens.Remove(id);
            }

            return ValueTask.FromResult(expired.Count);
        }
    }
}
