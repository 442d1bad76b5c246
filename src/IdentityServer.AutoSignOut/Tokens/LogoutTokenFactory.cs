using System.Globalization;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace AutoSignOut.IdentityServer;

/// <summary>
/// Mints OIDC Back-Channel Logout 1.0 logout tokens: <c>typ: logout+jwt</c>, signed with the IdP's key, with
/// <c>iss</c>, <c>aud</c>, <c>iat</c>, <c>exp</c>, a fresh <c>jti</c>, <c>events</c>, <c>sub</c> and <c>sid</c> when known,
/// never <c>nonce</c>, plus the <c>reason</c> and <c>revoked_jti</c> claims that the AutoSignOut client reads.
/// </summary>
public sealed class LogoutTokenFactory
{
    private static readonly JsonWebTokenHandler Handler = new() { SetDefaultTimesOnTokenCreation = false };

    private readonly ILogoutSigningCredentialsSource _credentials;
    private readonly IOptionsMonitor<AutoSignOutServerOptions> _options;
    private readonly TimeProvider _time;

    /// <summary>Creates a factory that signs with the credentials of <paramref name="credentials"/>.</summary>
    /// <param name="credentials">Supplies the issuer and signing key.</param>
    /// <param name="options">Supplies the token lifetime.</param>
    /// <param name="time">The clock for <c>iat</c> and <c>exp</c>.</param>
    public LogoutTokenFactory(ILogoutSigningCredentialsSource credentials, IOptionsMonitor<AutoSignOutServerOptions> options, TimeProvider time)
    {
        _credentials = credentials;
        _options = options;
        _time = time;
    }

    /// <summary>Mints a new logout token, with a new <c>jti</c>, for <paramref name="notification"/>.</summary>
    /// <param name="notification">Names the audience, subject, session, reason and revoked token ids.</param>
    /// <param name="cancellationToken">Cancels fetching the signing credentials.</param>
    /// <returns>The compact JWS, its <c>jti</c> and its expiry.</returns>
    public async ValueTask<MintedLogoutToken> CreateAsync(LogoutNotification notification, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(notification);
        if (notification.Subject is null && notification.SessionId is null)
        {
            throw new ArgumentException("A logout token needs a subject, a session id or both.", nameof(notification));
        }

        var signing = await _credentials.GetSigningCredentialsAsync(cancellationToken).ConfigureAwait(false);
        var now = _time.GetUtcNow();
        // JWT times are whole seconds; truncating keeps exp - iat exactly the configured lifetime.
        now = DateTimeOffset.FromUnixTimeSeconds(now.ToUnixTimeSeconds());
        var expires = now + _options.CurrentValue.LogoutTokenLifetime;
        var jti = Guid.NewGuid().ToString("N", CultureInfo.InvariantCulture);

        var claims = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            [JwtRegisteredClaimNames.Jti] = jti,
            ["events"] = new Dictionary<string, object>(StringComparer.Ordinal)
            {
                [AutoSignOutServerDefaults.BackChannelLogoutEvent] = new Dictionary<string, object>(),
            },
            [AutoSignOutServerDefaults.ReasonClaim] = notification.Reason,
        };
        if (notification.Subject is not null)
        {
            claims[JwtRegisteredClaimNames.Sub] = notification.Subject;
        }

        if (notification.SessionId is not null)
        {
            claims[JwtRegisteredClaimNames.Sid] = notification.SessionId;
        }

        if (notification.RevokedTokenIds.Count > 0)
        {
            claims[AutoSignOutServerDefaults.RevokedTokenIdsClaim] = notification.RevokedTokenIds.ToArray();
        }

        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = signing.Issuer,
            Audience = notification.ClientId,
            IssuedAt = now.UtcDateTime,
            Expires = expires.UtcDateTime,
            TokenType = AutoSignOutServerDefaults.LogoutTokenType,
            SigningCredentials = signing.Credentials,
            Claims = claims,
        };
        return new MintedLogoutToken(Handler.CreateToken(descriptor), jti, expires);
    }
}

/// <summary>A minted logout token.</summary>
/// <param name="Token">The compact JWS.</param>
/// <param name="TokenId">Its <c>jti</c>.</param>
/// <param name="ExpiresAt">Its <c>exp</c>.</param>
public readonly record struct MintedLogoutToken(string Token, string TokenId, DateTimeOffset ExpiresAt);
