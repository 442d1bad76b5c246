using System.Security.Claims;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace AutoSignOut.IdentityServer.OpenIddict;

/// <summary>
/// Remembers the <c>sid</c> of the authorization code or refresh token a token request redeems, so that it reaches the
/// new tokens even when the app's token endpoint rebuilds the principal from its user store.
/// </summary>
internal sealed class CaptureRedeemedSessionId : IOpenIddictServerHandler<ProcessAuthenticationContext>
{
    public const string Property = ".autosignout.redeemed_sid";

    public static OpenIddictServerHandlerDescriptor Descriptor { get; } = OpenIddictServerHandlerDescriptor.CreateBuilder<ProcessAuthenticationContext>()
        .UseSingletonHandler<CaptureRedeemedSessionId>()
        .SetOrder(int.MaxValue - 100_000)
        .SetType(OpenIddictServerHandlerType.Custom)
        .Build();

    public ValueTask HandleAsync(ProcessAuthenticationContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var principal = context.AuthorizationCodePrincipal ?? context.RefreshTokenPrincipal ?? context.DeviceCodePrincipal;
        if (principal?.GetClaim(AutoSignOutOpenIddictDefaults.SessionIdClaim) is { Length: > 0 } sessionId)
        {
            context.Transaction.Properties[Property] = sessionId;
        }

        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// Puts the IdP session's <c>sid</c> into the tokens a sign-in issues (id and access tokens, and through the code and
/// refresh token every token issued from them), records which client took part in the session, and refuses a token
/// request whose session has ended.
/// </summary>
internal sealed class AttachSessionId : IOpenIddictServerHandler<ProcessSignInContext>
{
    private readonly IAutoSignOutSessionStore _sessions;
    private readonly SessionLifecycle _lifecycle;
    private readonly IOptionsMonitor<AutoSignOutOpenIddictOptions> _options;
    private readonly ILogger _logger;

    public AttachSessionId(IAutoSignOutSessionStore sessions, SessionLifecycle lifecycle, IOptionsMonitor<AutoSignOutOpenIddictOptions> options, ILogger<AttachSessionId> logger)
    {
        _sessions = sessions;
        _lifecycle = lifecycle;
        _options = options;
        _logger = logger;
    }

    // After OpenIddict attached the authorization (its id is what links tokens to the session), before it copies the
    // principal into the token principals.
    public static OpenIddictServerHandlerDescriptor Descriptor { get; } = OpenIddictServerHandlerDescriptor.CreateBuilder<ProcessSignInContext>()
        .UseScopedHandler<AttachSessionId>()
        .SetOrder(OpenIddictServerHandlers.AttachAuthorization.Descriptor.Order + 500)
        .SetType(OpenIddictServerHandlerType.Custom)
        .Build();

    public async ValueTask HandleAsync(ProcessSignInContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.Principal is not { Identity: ClaimsIdentity } principal || principal.GetClaim(Claims.Subject) is not { Length: > 0 } subject)
        {
            return;
        }

        var cancellationToken = context.CancellationToken;
        var sessionId = principal.GetClaim(AutoSignOutOpenIddictDefaults.SessionIdClaim)
            ?? (context.Transaction.Properties.TryGetValue(CaptureRedeemedSessionId.Property, out var redeemed) ? redeemed as string : null);
        var clientId = context.Request?.ClientId;

        if (context.EndpointType == OpenIddictServerEndpointType.Authorization)
        {
            sessionId ??= await FindCookieSessionAsync(context).ConfigureAwait(false)
                // No session cookie (a host signing in without one of the configured schemes): the grant is its own session.
                ?? await _lifecycle.StartAsync(_sessions, subject, cancellationToken).ConfigureAwait(false);
        }
        else if (sessionId is not null)
        {
            var session = await _sessions.FindAsync(sessionId, cancellationToken).ConfigureAwait(false);
            if (_options.CurrentValue.EndingSessionRevokesTokens && session is not { IsActive: true })
            {
                _logger.EndedSessionRefused(clientId);
                context.Reject(Errors.InvalidGrant, "The login session of this grant has ended.");
                return;
            }

            if (session is not null)
            {
                await _lifecycle.TouchAsync(_sessions, session, cancellationToken).ConfigureAwait(false);
            }
        }

        if (sessionId is null)
        {
            return;
        }

        principal.SetClaim(AutoSignOutOpenIddictDefaults.SessionIdClaim, sessionId);
        principal.FindFirst(AutoSignOutOpenIddictDefaults.SessionIdClaim)!.SetDestinations(Destinations.IdentityToken, Destinations.AccessToken);
        if (clientId is not null && (context.EndpointType == OpenIddictServerEndpointType.Authorization || principal.GetAuthorizationId() is not null))
        {
            await _sessions.AddClientAsync(sessionId, new SessionClient(clientId, principal.GetAuthorizationId()), cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<string?> FindCookieSessionAsync(ProcessSignInContext context)
    {
        if (context.Transaction.GetHttpRequest()?.HttpContext is not { } http)
        {
            return null;
        }

        return (await SessionCookieEvents.FindCookieSessionsAsync(http, _options.CurrentValue.CookieSchemes).ConfigureAwait(false)).FirstOrDefault();
    }
}

/// <summary>
/// Ends the IdP session when the app completes an end-session request (RP-initiated logout) by signing out through
/// OpenIddict: the session of the browser's cookie, or, when the cookie is already gone, the session named by the
/// <c>id_token_hint</c>'s <c>sid</c>.
/// </summary>
internal sealed class EndSessionOnSignOut : IOpenIddictServerHandler<ProcessSignOutContext>, IOpenIddictServerHandler<HandleEndSessionRequestContext>
{
    private const string HintProperty = ".autosignout.hint_sid";

    private readonly IAutoSignOutSessionService _service;
    private readonly IAutoSignOutSessionStore _sessions;
    private readonly IOptionsMonitor<AutoSignOutOpenIddictOptions> _options;

    public EndSessionOnSignOut(IAutoSignOutSessionService service, IAutoSignOutSessionStore sessions, IOptionsMonitor<AutoSignOutOpenIddictOptions> options)
    {
        _service = service;
        _sessions = sessions;
        _options = options;
    }

    public static OpenIddictServerHandlerDescriptor SignOutDescriptor { get; } = OpenIddictServerHandlerDescriptor.CreateBuilder<ProcessSignOutContext>()
        .UseScopedHandler<EndSessionOnSignOut>()
        .SetOrder(int.MinValue + 100_000)
        .SetType(OpenIddictServerHandlerType.Custom)
        .Build();

    public static OpenIddictServerHandlerDescriptor RequestDescriptor { get; } = OpenIddictServerHandlerDescriptor.CreateBuilder<HandleEndSessionRequestContext>()
        .UseScopedHandler<EndSessionOnSignOut>()
        .SetOrder(int.MinValue + 100_000)
        .SetType(OpenIddictServerHandlerType.Custom)
        .Build();

    public ValueTask HandleAsync(HandleEndSessionRequestContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.IdentityTokenHintPrincipal?.GetClaim(AutoSignOutOpenIddictDefaults.SessionIdClaim) is { Length: > 0 } sessionId)
        {
            context.Transaction.Properties[HintProperty] = (sessionId, context.IdentityTokenHintPrincipal.GetClaim(Claims.Subject));
        }

        return ValueTask.CompletedTask;
    }

    public async ValueTask HandleAsync(ProcessSignOutContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.EndpointType != OpenIddictServerEndpointType.EndSession)
        {
            return;
        }

        var ended = false;
        if (context.Transaction.GetHttpRequest()?.HttpContext is { } http)
        {
            foreach (var cookieSession in await SessionCookieEvents.FindCookieSessionsAsync(http, _options.CurrentValue.CookieSchemes).ConfigureAwait(false))
            {
                await _service.EndSessionAsync(cookieSession, RevocationReasons.Logout, CancellationToken.None).ConfigureAwait(false);
                ended = true;
            }
        }

        // Without a cookie the hint is all there is; its sid only ends a session of the same subject.
        if (!ended && context.Transaction.Properties.TryGetValue(HintProperty, out var hint) && hint is (string sessionId, string subject)
            && await _sessions.FindAsync(sessionId, context.CancellationToken).ConfigureAwait(false) is { IsActive: true } session
            && session.Subject == subject)
        {
            await _service.EndSessionAsync(sessionId, RevocationReasons.Logout, CancellationToken.None).ConfigureAwait(false);
        }
    }
}

/// <summary>Advertises OIDC Back-Channel Logout 1.0 support in the discovery document.</summary>
internal sealed class AdvertiseBackChannelLogout : IOpenIddictServerHandler<HandleConfigurationRequestContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; } = OpenIddictServerHandlerDescriptor.CreateBuilder<HandleConfigurationRequestContext>()
        .UseSingletonHandler<AdvertiseBackChannelLogout>()
        .SetOrder(int.MaxValue - 100_000)
        .SetType(OpenIddictServerHandlerType.Custom)
        .Build();

    public ValueTask HandleAsync(HandleConfigurationRequestContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Metadata["backchannel_logout_supported"] = true;
        context.Metadata["backchannel_logout_session_supported"] = true;
        return ValueTask.CompletedTask;
    }
}
