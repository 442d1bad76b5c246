using Duende.IdentityModel;
using Duende.IdentityServer.Models;
using Duende.IdentityServer.Services;
using Microsoft.Extensions.Logging;

namespace AutoSignOut.IdentityServer.Duende;

/// <summary>
/// Records every access token IdentityServer issues (its <c>jti</c>, client, <c>sub</c>, <c>sid</c> and expiry) in the
/// engine's <see cref="IIssuedTokenIndex"/>, so that a later revocation names the tokens it revokes and connections
/// authenticated by them close.
/// </summary>
internal sealed class TokenServiceDecorator : ITokenService
{
    private readonly ITokenService _inner;
    private readonly IIssuedTokenIndex _index;
    private readonly DuendeLogoutSigningCredentialsSource _signing;
    private readonly DuendeBindingTelemetry _telemetry;
    private readonly ILogger _logger;

    public TokenServiceDecorator(ITokenService inner, IIssuedTokenIndex index, DuendeLogoutSigningCredentialsSource signing, DuendeBindingTelemetry telemetry, ILogger<TokenServiceDecorator> logger)
    {
        _inner = inner;
        _index = index;
        _signing = signing;
        _telemetry = telemetry;
        _logger = logger;
    }

    public Task<Token> CreateIdentityTokenAsync(TokenCreationRequest request) => _inner.CreateIdentityTokenAsync(request);

    public Task<Token> CreateAccessTokenAsync(TokenCreationRequest request) => _inner.CreateAccessTokenAsync(request);

    public async Task<string> CreateSecurityTokenAsync(Token token)
    {
        ArgumentNullException.ThrowIfNull(token);
        var result = await _inner.CreateSecurityTokenAsync(token).ConfigureAwait(false);
        // The issuer of the tokens a client holds is the one its logout tokens must carry: known from the first token on,
        // so a revocation from admin code outside any request can sign before anyone has logged out.
        _signing.Remember(token.Issuer);
        if (token.Type == OidcConstants.TokenTypes.AccessToken
            && token.Claims.FirstOrDefault(static c => c.Type == JwtClaimTypes.JwtId)?.Value is { Length: > 0 } jti
            && !string.IsNullOrEmpty(token.ClientId))
        {
            try
            {
                var expires = new DateTimeOffset(DateTime.SpecifyKind(token.CreationTime, DateTimeKind.Utc)).AddSeconds(token.Lifetime);
                await _index.RecordAsync(
                    new IssuedToken(
                        jti,
                        token.ClientId,
                        token.Claims.FirstOrDefault(static c => c.Type == JwtClaimTypes.Subject)?.Value,
                        token.Claims.FirstOrDefault(static c => c.Type == JwtClaimTypes.SessionId)?.Value,
                        expires),
                    CancellationToken.None).ConfigureAwait(false);
                _telemetry.IndexedTokens.Add(1);
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                // The token is issued either way; a failed index write only makes a later revocation name fewer ids.
                _logger.AccessTokenIndexFailed(exception);
            }
        }

        return result;
    }
}
