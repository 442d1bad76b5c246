using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.WebUtilities;

namespace IdpBench;

/// <summary>
/// A browser stand-in with its own cookie jar: signs in on the IdP's form (antiforgery token and all), runs the code
/// flow with PKCE in that IdP session and signs out at the end-session endpoint. Both demo IdPs share the sign-in form,
/// so bench/DuendeBench links this file.
/// </summary>
internal sealed partial class BenchUserAgent : IDisposable
{
    private readonly HttpClient _http = new(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = true, CookieContainer = new CookieContainer() })
    {
        Timeout = TimeSpan.FromSeconds(30),
    };

    /// <summary>Signs in on the IdP's sign-in page: a new IdP session.</summary>
    public async Task SignInAsync(Uri idp, string userName, string password)
    {
        var html = await _http.GetStringAsync(new Uri(idp, "/account/sign-in"));
        var token = AntiforgeryField().Match(html) is { Success: true } match ? WebUtility.HtmlDecode(match.Groups["v"].Value) : throw new InvalidOperationException("The sign-in page has no antiforgery token.");
        using var response = await _http.PostAsync(new Uri(idp, "/account/sign-in"), new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = token,
            ["userName"] = userName,
            ["password"] = password,
            ["returnUrl"] = "/",
        }));
        if (response.StatusCode != HttpStatusCode.Redirect || response.Headers.Location?.OriginalString != "/")
        {
            throw new InvalidOperationException($"Sign-in as {userName} answered {(int)response.StatusCode} {response.Headers.Location}.");
        }
    }

    /// <summary>The code flow with PKCE in this agent's IdP session; returns the token endpoint's answer.</summary>
    public async Task<Tokens> GetTokensAsync(Uri idp, string clientId, Uri redirectUri, string scope = "openid profile offline_access")
    {
        var verifier = Base64Url(RandomNumberGenerator.GetBytes(32));
        var state = Base64Url(RandomNumberGenerator.GetBytes(16));
        var authorize = QueryHelpers.AddQueryString(new Uri(idp, "/connect/authorize").AbsoluteUri, new Dictionary<string, string?>
        {
            ["client_id"] = clientId,
            ["redirect_uri"] = redirectUri.AbsoluteUri,
            ["response_type"] = "code",
            ["response_mode"] = "query",
            ["scope"] = scope,
            ["code_challenge"] = Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(verifier))),
            ["code_challenge_method"] = "S256",
            ["state"] = state,
            ["nonce"] = Base64Url(RandomNumberGenerator.GetBytes(16)),
        });
        using var response = await _http.GetAsync(authorize);
        var location = response.Headers.Location ?? throw new InvalidOperationException($"The authorization request answered {(int)response.StatusCode} without a redirect.");
        var query = QueryHelpers.ParseQuery(location.Query);
        if (!query.TryGetValue("code", out var code) || query["state"] != state)
        {
            throw new InvalidOperationException($"The authorization response carried no code: {location}");
        }

        using var token = await _http.PostAsync(new Uri(idp, "/connect/token"), new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code",
            ["client_id"] = clientId,
            ["code"] = code.ToString(),
            ["redirect_uri"] = redirectUri.AbsoluteUri,
            ["code_verifier"] = verifier,
        }));
        var json = await token.Content.ReadAsStringAsync();
        if (!token.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"The token endpoint answered {(int)token.StatusCode}: {json}");
        }

        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        var accessToken = root.GetProperty("access_token").GetString()!;
        return new Tokens(accessToken, root.GetProperty("id_token").GetString()!, Claim(accessToken, "sid"));
    }

    /// <summary>The end-session request a client app sends the browser to: GET with an id_token_hint, in this IdP session.</summary>
    public async Task<HttpResponseMessage> EndSessionAsync(Uri idp, string idTokenHint, Uri postLogoutRedirectUri) =>
        await _http.GetAsync(QueryHelpers.AddQueryString(new Uri(idp, "/connect/endsession").AbsoluteUri, new Dictionary<string, string?>
        {
            ["id_token_hint"] = idTokenHint,
            ["post_logout_redirect_uri"] = postLogoutRedirectUri.AbsoluteUri,
        }));

    /// <summary>
    /// Submits a form of an IdP page in this agent's IdP session, as a browser would: reads <paramref name="page"/> for its
    /// antiforgery token, then posts <paramref name="fields"/> with it to <paramref name="action"/> (redirects not followed).
    /// </summary>
    public async Task<HttpResponseMessage> SubmitFormAsync(Uri page, Uri action, IDictionary<string, string> fields)
    {
        var html = await _http.GetStringAsync(page);
        var token = AntiforgeryField().Match(html) is { Success: true } match ? WebUtility.HtmlDecode(match.Groups["v"].Value) : throw new InvalidOperationException($"{page} has no antiforgery token.");
        return await _http.PostAsync(action, new FormUrlEncodedContent(new Dictionary<string, string>(fields) { ["__RequestVerificationToken"] = token }));
    }

    /// <summary>A GET in this agent's IdP session, redirects not followed (DuendeBench follows end-session to the logout page).</summary>
    public Task<HttpResponseMessage> GetAsync(Uri url) => _http.GetAsync(url);

    public void Dispose() => _http.Dispose();

    private static string? Claim(string jwt, string name)
    {
        var payload = jwt.Split('.')[1].Replace('-', '+').Replace('_', '/');
        payload = payload.PadRight(payload.Length + ((4 - (payload.Length % 4)) % 4), '=');
        using var document = JsonDocument.Parse(Convert.FromBase64String(payload));
        return document.RootElement.TryGetProperty(name, out var value) ? value.GetString() : null;
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    [GeneratedRegex("name=\"__RequestVerificationToken\"\\s+value=\"(?<v>[^\"]+)\"", RegexOptions.IgnoreCase)]
    private static partial Regex AntiforgeryField();
}

/// <summary>The tokens of one code flow; <see cref="SessionId"/> is the binding's <c>sid</c> (none without the binding).</summary>
internal sealed record Tokens(string AccessToken, string IdentityToken, string? SessionId);
