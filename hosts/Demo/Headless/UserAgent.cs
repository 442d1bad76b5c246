using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace AutoSignOut.Demo.Headless;

/// <summary>
/// A browser stand-in: one cookie jar across the IdP and the client app, redirects followed by hand (so each hop can
/// be inspected), HTML forms read for their antiforgery token and posted like a browser posts them.
/// </summary>
internal sealed partial class UserAgent : IDisposable
{
    private readonly HttpClient _http;

    public UserAgent()
    {
        _http = new HttpClient(new LoopbackCookieHandler(Cookies) { InnerHandler = new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false } })
        {
            Timeout = TimeSpan.FromSeconds(15),
        };
    }

    public CookieContainer Cookies { get; } = new();

    /// <summary>Signs in at the client app through the IdP's code flow (sign-in form and all); ends on the client's page.</summary>
    public async Task SignInThroughClientAppAsync(Uri clientApp, string userName, string password, CancellationToken cancellationToken)
    {
        var response = await FollowAsync(new Uri(clientApp, "/account/sign-in-oidc?returnUrl=/live"), cancellationToken);
        if (response.RequestMessage!.RequestUri!.AbsolutePath == "/account/sign-in")
        {
            // The IdP has no session yet: fill in its sign-in form.
            var html = await response.Content.ReadAsStringAsync(cancellationToken);
            response = await SubmitFormAsync(response.RequestMessage.RequestUri, html, "/account/sign-in", new() { ["userName"] = userName, ["password"] = password }, cancellationToken);
        }

        if (response.RequestMessage!.RequestUri!.Authority != clientApp.Authority || response.StatusCode != HttpStatusCode.OK)
        {
            throw new InvalidOperationException($"Sign-in as {userName} ended at {response.RequestMessage.RequestUri} ({(int)response.StatusCode}).");
        }
    }

    /// <summary>Runs the code flow with PKCE directly at the IdP, in this agent's IdP session, and redeems the code.</summary>
    public async Task<TokenSet> GetTokensAsync(Uri identityProvider, string clientId, Uri redirectUri, CancellationToken cancellationToken)
    {
        var verifier = Base64Url(RandomNumberGenerator.GetBytes(32));
        var challenge = Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));
        var state = Base64Url(RandomNumberGenerator.GetBytes(16));
        var authorize = new Uri(identityProvider, "/connect/authorize?" + Query(new()
        {
            ["client_id"] = clientId,
            ["redirect_uri"] = redirectUri.AbsoluteUri,
            ["response_type"] = "code",
            ["response_mode"] = "query",
            ["scope"] = "openid profile email roles offline_access",
            ["code_challenge"] = challenge,
            ["code_challenge_method"] = "S256",
            ["state"] = state,
            ["nonce"] = Base64Url(RandomNumberGenerator.GetBytes(16)),
        }));

        // Follow the IdP's own hops, stop at the redirect back to the client: that is where the code is.
        var location = authorize;
        for (var hop = 0; hop < 5 && location.Authority == identityProvider.Authority; hop++)
        {
            using var response = await _http.GetAsync(location, cancellationToken);
            location = response.Headers.Location is { } next ? Resolve(location, next) : throw new InvalidOperationException($"The authorization request answered {(int)response.StatusCode} without a redirect (is the IdP session gone?).");
        }

        var query = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(location.Query);
        if (!query.TryGetValue("code", out var code) || query["state"] != state)
        {
            throw new InvalidOperationException($"The authorization response carried no code: {location}");
        }

        using var token = await _http.PostAsync(new Uri(identityProvider, "/connect/token"), new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code",
            ["client_id"] = clientId,
            ["code"] = code!,
            ["redirect_uri"] = redirectUri.AbsoluteUri,
            ["code_verifier"] = verifier,
        }), cancellationToken);
        var json = await token.Content.ReadAsStringAsync(cancellationToken);
        if (!token.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"The token endpoint answered {(int)token.StatusCode}: {json}");
        }

        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        return new TokenSet(root.GetProperty("access_token").GetString()!, root.GetProperty("id_token").GetString()!, root.TryGetProperty("refresh_token", out var refresh) ? refresh.GetString() : null);
    }

    /// <summary>GETs a page and follows redirects (at most 10) to the final answer.</summary>
    public async Task<HttpResponseMessage> FollowAsync(Uri url, CancellationToken cancellationToken)
    {
        var response = await _http.GetAsync(url, cancellationToken);
        return await FollowRedirectsAsync(response, cancellationToken);
    }

    /// <summary>Reads the form posting to <paramref name="action"/> on a page, fills in fields and submits it, following redirects.</summary>
    public async Task<HttpResponseMessage> SubmitFormAsync(Uri page, string html, string action, Dictionary<string, string> fields, CancellationToken cancellationToken)
    {
        var form = FindForm(html, action) ?? throw new InvalidOperationException($"No form posting to {action} on {page}.");
        foreach (var (name, value) in fields)
        {
            form.Fields[name] = value;
        }

        var response = await _http.PostAsync(new Uri(page, form.Action), new FormUrlEncodedContent(form.Fields), cancellationToken);
        return await FollowRedirectsAsync(response, cancellationToken);
    }

    /// <summary>GETs a page and submits its form posting to <paramref name="action"/>.</summary>
    public async Task<HttpResponseMessage> SubmitFormOnPageAsync(Uri page, string action, Dictionary<string, string> fields, CancellationToken cancellationToken)
    {
        using var response = await FollowAsync(page, cancellationToken);
        var html = await response.Content.ReadAsStringAsync(cancellationToken);
        return await SubmitFormAsync(response.RequestMessage!.RequestUri!, html, action, fields, cancellationToken);
    }

    /// <summary>GETs a URL without following a redirect.</summary>
    public Task<HttpResponseMessage> GetAsync(Uri url, CancellationToken cancellationToken) => _http.GetAsync(url, cancellationToken);

    /// <summary>The cookies the client app set (its session cookie, chunked when large).</summary>
    public IReadOnlyList<Cookie> CookiesNamed(Uri site, string prefix) =>
        [.. Cookies.GetCookies(LoopbackCookieHandler.AsSecure(site)).Where(c => c.Name.StartsWith(prefix, StringComparison.Ordinal))];

    /// <summary>Signs in at the IdP itself (its own pages, not through a client).</summary>
    public async Task SignInAtIdentityProviderAsync(Uri identityProvider, string userName, string password, CancellationToken cancellationToken)
    {
        using var response = await SubmitFormOnPageAsync(new Uri(identityProvider, "/account/sign-in?ReturnUrl=%2Faccount"), "/account/sign-in", new() { ["userName"] = userName, ["password"] = password }, cancellationToken);
        if (response.RequestMessage!.RequestUri!.AbsolutePath != "/account")
        {
            throw new InvalidOperationException($"Sign-in at the IdP as {userName} ended at {response.RequestMessage.RequestUri}.");
        }
    }

    public Task<HttpResponseMessage> PostAsync(Uri url, Dictionary<string, string> fields, CancellationToken cancellationToken) =>
        _http.PostAsync(url, new FormUrlEncodedContent(fields), cancellationToken);

    public void Dispose() => _http.Dispose();

    private async Task<HttpResponseMessage> FollowRedirectsAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        for (var hop = 0; hop < 10; hop++)
        {
            if (response.Headers.Location is { } next && (int)response.StatusCode is >= 300 and < 400)
            {
                var url = Resolve(response.RequestMessage!.RequestUri!, next);
                response.Dispose();
                response = await _http.GetAsync(url, cancellationToken);
                continue;
            }

            // response_mode=form_post: the IdP answers a page that posts the code to the client; post it ourselves.
            if (response.StatusCode == HttpStatusCode.OK && response.Content.Headers.ContentType?.MediaType == "text/html")
            {
                var html = await response.Content.ReadAsStringAsync(cancellationToken);
                if (FindForm(html, action: null) is { } form && Uri.TryCreate(form.Action, UriKind.Absolute, out var target)
                    && (target.Scheme == Uri.UriSchemeHttp || target.Scheme == Uri.UriSchemeHttps) && target.Authority != response.RequestMessage!.RequestUri!.Authority && !html.Contains("type=\"password\"", StringComparison.Ordinal))
                {
                    response.Dispose();
                    response = await _http.PostAsync(target, new FormUrlEncodedContent(form.Fields), cancellationToken);
                    continue;
                }
            }

            return response;
        }

        throw new InvalidOperationException("Too many redirects.");
    }

    private static HtmlForm? FindForm(string html, string? action)
    {
        foreach (Match match in FormPattern().Matches(html))
        {
            var formAction = WebUtility.HtmlDecode(Attribute(match.Groups["attributes"].Value, "action") ?? string.Empty);
            if (action is not null && !formAction.Equals(action, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            var fields = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (Match input in InputPattern().Matches(match.Groups["body"].Value))
            {
                var attributes = input.Groups["attributes"].Value;
                if (Attribute(attributes, "name") is { } name && Attribute(attributes, "type") is "hidden")
                {
                    fields[WebUtility.HtmlDecode(name)] = WebUtility.HtmlDecode(Attribute(attributes, "value") ?? string.Empty);
                }
            }

            return new HtmlForm(formAction, fields);
        }

        return null;
    }

    /// <summary>Resolves a Location header; on Unix a bare "/path" parses as an absolute file URI, so go by its text.</summary>
    private static Uri Resolve(Uri current, Uri location) =>
        location.IsAbsoluteUri && !location.IsFile ? location : new Uri(current, location.OriginalString);

    private static string? Attribute(string attributes, string name)
    {
        var match = Regex.Match(attributes, $"""\b{name}\s*=\s*(?:"(?<v>[^"]*)"|'(?<v>[^']*)')""", RegexOptions.IgnoreCase);
        return match.Success ? match.Groups["v"].Value : null;
    }

    private static string Query(Dictionary<string, string> values) =>
        string.Join('&', values.Select(p => Uri.EscapeDataString(p.Key) + "=" + Uri.EscapeDataString(p.Value)));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    [GeneratedRegex("""<form(?<attributes>[^>]*)>(?<body>.*?)</form>""", RegexOptions.Singleline | RegexOptions.IgnoreCase)]
    private static partial Regex FormPattern();

    [GeneratedRegex("""<input(?<attributes>[^>]*)>""", RegexOptions.IgnoreCase)]
    private static partial Regex InputPattern();

    private sealed record HtmlForm(string Action, Dictionary<string, string> Fields);

    /// <summary>
    /// Keeps cookies as a browser does for http://127.0.0.1, which it treats as a secure origin: the OIDC handler's
    /// correlation and nonce cookies are <c>Secure</c>, and <see cref="CookieContainer"/> would never send those over http.
    /// </summary>
    private sealed class LoopbackCookieHandler(CookieContainer cookies) : DelegatingHandler
    {
        public static Uri AsSecure(Uri uri) => uri.Scheme == Uri.UriSchemeHttp && uri.IsLoopback ? new UriBuilder(uri) { Scheme = Uri.UriSchemeHttps }.Uri : uri;

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var uri = AsSecure(request.RequestUri!);
            if (cookies.GetCookieHeader(uri) is { Length: > 0 } header)
            {
                request.Headers.Add("Cookie", header);
            }

            var response = await base.SendAsync(request, cancellationToken);
            if (response.Headers.TryGetValues("Set-Cookie", out var values))
            {
                foreach (var value in values)
                {
                    cookies.SetCookies(uri, value);
                }
            }

            return response;
        }
    }
}

/// <summary>Tokens from the IdP's token endpoint.</summary>
internal sealed record TokenSet(string AccessToken, string IdentityToken, string? RefreshToken)
{
    /// <summary>A claim of a JWT's payload (the demo reads its own tokens; it does not validate them).</summary>
    public static string? Claim(string jwt, string name)
    {
        var parts = jwt.Split('.');
        if (parts.Length < 2)
        {
            return null;
        }

        var payload = parts[1].Replace('-', '+').Replace('_', '/');
        payload = payload.PadRight(payload.Length + ((4 - (payload.Length % 4)) % 4), '=');
        using var document = JsonDocument.Parse(Convert.FromBase64String(payload));
        return document.RootElement.TryGetProperty(name, out var value) ? value.ToString() : null;
    }
}
