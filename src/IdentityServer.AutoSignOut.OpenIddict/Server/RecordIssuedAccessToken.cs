using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace AutoSignOut.IdentityServer.OpenIddict;

/// <summary>
/// Records each issued JWT access token's <c>jti</c> (with its client, subject, session and expiry) in the engine's
/// <see cref="IIssuedTokenIndex"/>, so a later revocation names it and clients close the connections it authenticated.
/// OpenIddict picks the <c>jti</c> while it writes the token, so it is read back from the token (decrypted first when
/// access token encryption is on).
/// </summary>
internal sealed class RecordIssuedAccessToken : IOpenIddictServerHandler<ProcessSignInContext>
{
    private static readonly JsonWebTokenHandler Handler = new();

    private readonly IIssuedTokenIndex? _index;
    private readonly IOptionsMonitor<OpenIddictServerOptions> _server;
    private readonly ILogger _logger;

    public RecordIssuedAccessToken(IOptionsMonitor<OpenIddictServerOptions> server, ILogger<RecordIssuedAccessToken> logger, IIssuedTokenIndex? index = null)
    {
        _index = index;
        _server = server;
        _logger = logger;
    }

    public static OpenIddictServerHandlerDescriptor Descriptor { get; } = OpenIddictServerHandlerDescriptor.CreateBuilder<ProcessSignInContext>()
        .UseSingletonHandler<RecordIssuedAccessToken>()
        .SetOrder(OpenIddictServerHandlers.GenerateAccessToken.Descriptor.Order + 500)
        .SetType(OpenIddictServerHandlerType.Custom)
        .Build();

    public async ValueTask HandleAsync(ProcessSignInContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (_index is null || string.IsNullOrEmpty(context.AccessToken) || context.AccessTokenPrincipal is not { } principal)
        {
            return;
        }

        var clientId = context.Request?.ClientId ?? principal.GetPresenters().FirstOrDefault();
        var subject = principal.GetClaim(Claims.Subject);
        if (clientId is null || subject is null)
        {
            return;
        }

        if (Read(context.AccessToken) is not { } token)
        {
            _logger.AccessTokenNotIndexed(clientId, "not a JWT (reference tokens are not indexed)");
            return;
        }

        if (string.IsNullOrEmpty(token.Id))
        {
            _logger.AccessTokenNotIndexed(clientId, "no jti");
            return;
        }

        try
        {
            await _index.RecordAsync(
                new IssuedToken(token.Id, clientId, subject, principal.GetClaim(AutoSignOutOpenIddictDefaults.SessionIdClaim), new DateTimeOffset(token.ValidTo, TimeSpan.Zero)),
                context.CancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // The token is issued either way; a client whose bearer connection outlives a revocation is the cost.
            _logger.AccessTokenIndexFailed(exception);
        }
    }

    private JsonWebToken? Read(string value)
    {
        if (!Handler.CanReadToken(value))
        {
            return null;
        }

        var token = new JsonWebToken(value);
        if (!token.IsEncrypted)
        {
            return token;
        }

        var keys = _server.CurrentValue.EncryptionCredentials.Select(static c => c.Key).ToList();
        var parameters = new TokenValidationParameters { TokenDecryptionKeys = keys };
        try
        {
            return new JsonWebToken(Handler.DecryptToken(token, parameters));
        }
        catch (SecurityTokenException)
        {
            return null;
        }
    }
}
