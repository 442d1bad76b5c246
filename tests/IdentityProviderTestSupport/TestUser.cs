using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.Http.Connections.Client;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.AspNetCore.WebUtilities;

namespace AutoSignOut.Testing.IdentityProviders;

/// <summary>
/// A user with a browser-like cookie jar: signs in at the IdP, then to the client app through the real OIDC code flow
/// (following redirects and the IdP's form_post by hand), gets tokens for the client directly with the code flow in the
/// same IdP session, and holds SignalR connections to the client's chat hub with the cookie or a bearer token.
/// </summary>
internal sealed partial class TestUser : IDisposable
{
    private readonly IIdentityProviderStack _stack;
    private readonly HttpClient _http;

    public TestUser(IIdentityProviderStack stack, string name)
    {
        _stack = stack;
        Name = name;
        Cookies = new CookieContainer();
        _http = new HttpClient(new SocketsHttpHandler { CookieContainer = Cookies, AllowAutoRedirect = false }) { Timeout = TimeSpan.FromSeconds(30) };
    }

    public string Name { get; }

    public CookieContainer Cookies { get; }

    public TokenSet? Tokens { get; private set; }

    /// <summary>A user whose name is <paramref name="name"/> with a unique suffix.</summary>
    public static TestUser Create(IIdentityProviderStack stack, string name) => new(stack, $"{name}-{Guid.NewGuid():N}"[..(name.Length + 9)]);

    /// <summary>Signs in at the IdP, then to the client app (code flow), and gets its own tokens for the client.</summary>
    public async Task SignInAsync()
    {
        await SignInAtIdpAsync();
        var landed = await FollowAsync(new Uri($"{_stack.ClientAddress}/account/sign-in-oidc?returnUrl=%2Flive"));
        Assert.AreEqual($"{_stack.ClientAddress}/live", landed.GetLeftPart(UriPartial.Path), "the code flow should land on the live page");
        Tokens = await GetTokensAsync();
    }

    /// <summary>Signs in at the IdP only: a session that no client takes part in.</summary>
    public async Task SignInAtIdpAsync() => await FollowAsync(new Uri($"{_stack.IdpAddress}/login?user={Uri.EscapeDataString(Name)}&returnUrl=%2F"));

    /// <summary>The code flow for client-app directly at the IdP, in this user's IdP session.</summary>
    public async Task<TokenSet> GetTokensAsync()
    {
        var verifier = WebEncoders.Base64UrlEncode(RandomNumberGenerator.GetBytes(32));
        var challenge = WebEncoders.Base64UrlEncode(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));
        var redirect = $"{_stack.ClientAddress}/signin-oidc";
        var authorize = $"{_stack.IdpAddress}/connect/authorize?client_id={_stack.ClientId}&response_type=code&response_mode=query" +
            $"&redirect_uri={Uri.EscapeDataString(redirect)}&scope={Uri.EscapeDataString(_stack.CodeFlowScopes)}&code_challenge={challenge}&code_challenge_method=S256&state=s&nonce=n";
        using var response = await _http.GetAsync(authorize);
        Assert.AreEqual(HttpStatusCode.Redirect, response.StatusCode, await response.Content.ReadAsStringAsync());
        var code = QueryHelpers.ParseQuery(response.Headers.Location!.Query)["code"].ToString();
        Assert.IsFalse(string.IsNullOrEmpty(code), response.Headers.Location.ToString());
        return await TokenRequestAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code",
            ["code"] = code,
            ["redirect_uri"] = redirect,
            ["client_id"] = _stack.ClientId,
            ["code_verifier"] = verifier,
        });
    }

    public async Task<TokenSet> RefreshAsync()
    {
        Tokens = await TokenRequestAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token",
            ["refresh_token"] = Tokens!.RefreshToken,
            ["client_id"] = _stack.ClientId,
        });
        return Tokens;
    }

    public async Task<HttpResponseMessage> TryRefreshAsync(string refreshToken) =>
        await _http.PostAsync($"{_stack.IdpAddress}/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token",
            ["refresh_token"] = refreshToken,
            ["client_id"] = _stack.ClientId,
        }));

    public async Task<HttpStatusCode> RevokeAtEndpointAsync(string token, string hint = "refresh_token")
    {
        using var response = await _http.PostAsync($"{_stack.IdpAddress}/connect/revocation", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["token"] = token,
            ["token_type_hint"] = hint,
            ["client_id"] = _stack.ClientId,
        }));
        return response.StatusCode;
    }

    /// <summary>Logs out at the IdP's end-session endpoint (RP-initiated logout, the IdP cookie present).</summary>
    public async Task<TimeSpan> LogOutAtIdpAsync(string? idTokenHint = null)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var url = $"{_stack.IdpAddress}{_stack.LogoutPath}" + (idTokenHint is null ? string.Empty : $"?id_token_hint={idTokenHint}");
        using var response = await _http.GetAsync(url);
        var elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(started);
        Assert.IsTrue(response.StatusCode is HttpStatusCode.Redirect or HttpStatusCode.Found or HttpStatusCode.OK, $"logout answered {(int)response.StatusCode}");
        return elapsed;
    }

    /// <summary>Whether the IdP still accepts this user's IdP cookie (an authorization request gets a code, not the login page).</summary>
    public async Task<bool> IdpCookieAcceptedAsync()
    {
        var redirect = $"{_stack.ClientAddress}/signin-oidc";
        var authorize = $"{_stack.IdpAddress}/connect/authorize?client_id={_stack.ClientId}&response_type=code&response_mode=query" +
            $"&redirect_uri={Uri.EscapeDataString(redirect)}&scope=openid&code_challenge=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa&code_challenge_method=S256&state=s";
        using var response = await _http.GetAsync(authorize);
        return response.Headers.Location?.OriginalString.StartsWith(redirect, StringComparison.Ordinal) == true;
    }

    public async Task ReissueIdpCookieAsync()
    {
        using var response = await _http.PostAsync($"{_stack.IdpAddress}/reissue-cookie", content: null);
        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode);
    }

    public Task<LiveConnection> ConnectWithCookieAsync() => LiveConnection.StartAsync(_stack.ClientAddress, o => o.Cookies = Cookies);

    public Task<LiveConnection> ConnectWithBearerAsync(string? accessToken = null)
    {
        var token = accessToken ?? Tokens!.AccessToken;
        return LiveConnection.StartAsync(_stack.ClientAddress, o => o.AccessTokenProvider = () => Task.FromResult<string?>(token));
    }

    /// <summary>Whether a new hub connection with this user's cookie is refused.</summary>
    public Task<bool> CookieRefusedAsync() => LiveConnection.RefusedAsync(_stack.ClientAddress, o => o.Cookies = Cookies);

    public Task<bool> BearerRefusedAsync(string accessToken) =>
        LiveConnection.RefusedAsync(_stack.ClientAddress, o => o.AccessTokenProvider = () => Task.FromResult<string?>(accessToken));

    public void Dispose() => _http.Dispose();

    private async Task<TokenSet> TokenRequestAsync(Dictionary<string, string> form)
    {
        using var response = await _http.PostAsync($"{_stack.IdpAddress}/connect/token", new FormUrlEncodedContent(form));
        var body = await response.Content.ReadAsStringAsync();
        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode, body);
        var json = JsonDocument.Parse(body).RootElement;
        return new TokenSet(json.GetProperty("access_token").GetString()!, json.GetProperty("refresh_token").GetString()!, json.GetProperty("id_token").GetString()!);
    }

    /// <summary>Follows redirects and auto-posting forms (OpenIddict's form_post answers) like a browser; returns the last URL.</summary>
    private async Task<Uri> FollowAsync(Uri url)
    {
        HttpContent? post = null;
        for (var hop = 0; hop < 20; hop++)
        {
            using var response = post is null ? await _http.GetAsync(url) : await _http.PostAsync(url, post);
            post = null;
            // Browsers treat http://127.0.0.1 as a secure context and send Secure cookies (the OIDC handler's correlation
            // and nonce cookies are Secure); HttpClient's cookie jar does not.
            foreach (Cookie cookie in Cookies.GetAllCookies())
            {
                cookie.Secure = false;
            }

            if (response.Headers.Location is { } location)
            {
                // On Unix a path-only Location ("/live") parses as an absolute file URI.
                url = location.IsAbsoluteUri && location.Scheme.StartsWith("http", StringComparison.Ordinal) ? location : new Uri(url, location.OriginalString);
                continue;
            }

            var body = await response.Content.ReadAsStringAsync();
            Assert.IsTrue(response.IsSuccessStatusCode, $"{(int)response.StatusCode} at {url}: {body}");
            // Only the IdP answers with a self-posting form (response_mode=form_post); the client's pages have forms of their own.
            if (url.GetLeftPart(UriPartial.Authority) == _stack.IdpAddress && FormAction().Match(body) is { Success: true } form)
            {
                url = new Uri(WebUtility.HtmlDecode(form.Groups[1].Value));
                post = new FormUrlEncodedContent(HiddenInput().Matches(body).ToDictionary(m => WebUtility.HtmlDecode(m.Groups[1].Value), m => WebUtility.HtmlDecode(m.Groups[2].Value)));
                continue;
            }

            return url;
        }

        throw new AssertFailedException("too many redirects");
    }

    // OpenIddict writes its form_post page with double quotes, Duende with single ones.
    [GeneratedRegex("<form[^>]*method=['\"]post['\"][^>]*action=['\"]([^'\"]+)['\"]", RegexOptions.IgnoreCase)]
    private static partial Regex FormAction();

    [GeneratedRegex("<input[^>]*name=['\"]([^'\"]+)['\"][^>]*value=['\"]([^'\"]*)['\"]", RegexOptions.IgnoreCase)]
    private static partial Regex HiddenInput();
}

internal sealed record TokenSet(string AccessToken, string RefreshToken, string IdToken);

/// <summary>A live SignalR connection to the client app's chat hub, which knows when (and why) it was closed.</summary>
internal sealed class LiveConnection : IAsyncDisposable
{
    private readonly HubConnection _connection;
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<string> _reason = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _reasons = new();

    private LiveConnection(HubConnection connection)
    {
        _connection = connection;
        connection.Closed += _ =>
        {
            _closed.TrySetResult();
            return Task.CompletedTask;
        };
        connection.On<string>("signedOut", reason =>
        {
            SignedOutReason ??= reason;
            _reasons.Enqueue(reason);
            _reason.TrySetResult(reason);
        });
    }

    /// <summary>The reason of the first "signed out" message, or <see langword="null"/> while none has arrived.</summary>
    public string? SignedOutReason { get; private set; }

    /// <summary>Every "signed out" reason received, in order: one revocation should tell the connection once.</summary>
    public IReadOnlyCollection<string> SignedOutReasons => _reasons;

    /// <summary>
    /// Waits (bounded) for the "signed out" message. The client runs its handlers apart from the loop that reports the
    /// close, so a closed connection may not have run its handler yet; <see langword="null"/> if none arrived in time.
    /// </summary>
    public async Task<string?> SignedOutReasonWithinAsync(TimeSpan timeout)
    {
        try
        {
            return await _reason.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            return null;
        }
    }

    public bool IsOpen => _connection.State == HubConnectionState.Connected;

    public static async Task<LiveConnection> StartAsync(string clientAddress, Action<HttpConnectionOptions> configure)
    {
        var connection = new LiveConnection(Build(clientAddress, configure));
        await connection._connection.StartAsync().WaitAsync(TimeSpan.FromSeconds(15));
        // The server answers the handshake before the hub's OnConnectedAsync ran: a round trip makes sure it did.
        await connection._connection.InvokeAsync("Send", "hello").WaitAsync(TimeSpan.FromSeconds(15));
        return connection;
    }

    public static async Task<bool> RefusedAsync(string clientAddress, Action<HttpConnectionOptions> configure)
    {
        await using var connection = Build(clientAddress, configure);
        try
        {
            await connection.StartAsync().WaitAsync(TimeSpan.FromSeconds(15));
            await connection.InvokeAsync("Send", "after revocation").WaitAsync(TimeSpan.FromSeconds(15));
            return false;
        }
        catch (Exception exception) when (exception is HttpRequestException or HubException or InvalidOperationException or System.Net.WebSockets.WebSocketException or TaskCanceledException)
        {
            return true;
        }
    }

    /// <summary>Waits (bounded) until the server closes the connection.</summary>
    public async Task<bool> ClosedWithinAsync(TimeSpan timeout)
    {
        try
        {
            await _closed.Task.WaitAsync(timeout);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    public ValueTask DisposeAsync() => _connection.DisposeAsync();

    private static HubConnection Build(string clientAddress, Action<HttpConnectionOptions> configure) => new HubConnectionBuilder()
        .WithUrl($"{clientAddress}/hubs/chat", o =>
        {
            o.Transports = HttpTransportType.WebSockets;
            o.SkipNegotiation = true;
            configure(o);
        })
        .Build();
}
