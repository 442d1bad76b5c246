using System.Diagnostics;
using System.Globalization;
using System.Net;
using AutoSignOut.AspNetCore;

namespace AutoSignOut.Demo.Headless;

/// <summary>
/// Runs every trigger against the real IdP, by itself: a user signs in through the code flow and holds two live hub
/// connections (cookie, bearer token); the trigger fires at the IdP; the timeline shows when the client app got the
/// logout token, when each connection closed, and that the old cookie and token are refused. Exit code 1 when any
/// trigger fails to close what it should.
/// </summary>
internal sealed class HeadlessRun(DemoHosts hosts, DemoSettings settings, DemoUsers users, TextWriter output)
{
    private const string ClientId = "client-app";
    private const string ClientCookie = "AutoSignOut.ClientApp";

    private readonly Uri _idp = settings.IdentityProviderUrl;
    private readonly Uri _client = settings.ClientAppUrl;
    private readonly List<(string Trigger, bool Passed, string Detail)> _results = [];
    private string _alicePassword = users.Alice.Password;
    private UserAgent? _admin;
    private Session? _bob;

    private Uri Hub => new(_client, "/hubs/chat");

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        output.WriteLine($"Headless run: identity provider {_idp}, client app {_client}; each wait is bounded by {settings.TriggerTimeout.TotalSeconds:0} s.");
        output.WriteLine();

        await RunTriggerAsync("IdP logout (end-session endpoint, id_token_hint)", bystanderSurvives: true, async alice =>
        {
            var url = new Uri(_idp, "/connect/endsession?" + string.Join('&',
                "id_token_hint=" + Uri.EscapeDataString(alice.Tokens.IdentityToken),
                "post_logout_redirect_uri=" + Uri.EscapeDataString(new Uri(_client, "/signout-callback-oidc").AbsoluteUri)));
            using var response = await alice.Agent.GetAsync(url, cancellationToken);
            return Expect(response, HttpStatusCode.Redirect, "/signout-callback-oidc");
        }, cancellationToken);

        await RunTriggerAsync("Password change (account page, sign out everywhere)", bystanderSurvives: true, async alice =>
        {
            var next = _alicePassword == users.Alice.Password ? users.Alice.Password + "-changed" : users.Alice.Password;
            using var response = await alice.Agent.SubmitFormOnPageAsync(new Uri(_idp, "/account"), "/account/change-password", new()
            {
                ["currentPassword"] = _alicePassword,
                ["newPassword"] = next,
                ["confirmPassword"] = next,
            }, cancellationToken);
            var ok = response.RequestMessage!.RequestUri!.Query.Contains("password_changed", StringComparison.Ordinal);
            if (ok)
            {
                _alicePassword = next;
            }

            return ok ? "POST /account/change-password -> sign-in page (password_changed)" : $"the password was not changed: ended at {response.RequestMessage.RequestUri}";
        }, cancellationToken);

        await RunTriggerAsync("Admin: end the user's sessions (admin page)", bystanderSurvives: true, async alice =>
        {
            var admin = await AdminAsync(cancellationToken);
            using var response = await admin.SubmitFormOnPageAsync(new Uri(_idp, "/admin"), $"/admin/users/{alice.Subject}/end-sessions", [], cancellationToken);
            return response.RequestMessage!.RequestUri!.Query.Contains("done=user", StringComparison.Ordinal)
                ? $"POST /admin/users/{{alice}}/end-sessions as {users.Admin.UserName} -> done"
                : $"the admin page did not confirm: {response.RequestMessage.RequestUri}";
        }, cancellationToken);

        await RunTriggerAsync("Admin: revoke client-app's grants (admin page)", bystanderSurvives: false, async _ =>
        {
            var admin = await AdminAsync(cancellationToken);
            using var response = await admin.SubmitFormOnPageAsync(new Uri(_idp, "/admin"), $"/admin/clients/{ClientId}/revoke", [], cancellationToken);
            return response.RequestMessage!.RequestUri!.Query.Contains("done=client", StringComparison.Ordinal)
                ? $"POST /admin/clients/{ClientId}/revoke -> {Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(response.RequestMessage.RequestUri.Query)["count"]} grants and tokens revoked"
                : $"the admin page did not confirm: {response.RequestMessage.RequestUri}";
        }, cancellationToken);

        await RunTriggerAsync("Refresh token revoked at /connect/revocation", bystanderSurvives: true, async alice =>
        {
            using var response = await alice.Agent.PostAsync(new Uri(_idp, "/connect/revocation"), new()
            {
                ["token"] = alice.Tokens.RefreshToken ?? throw new InvalidOperationException("No refresh token was issued."),
                ["token_type_hint"] = "refresh_token",
                ["client_id"] = ClientId,
            }, cancellationToken);
            return Expect(response, HttpStatusCode.OK, null);
        }, cancellationToken);

        // The idle timeout would end every session of the other triggers too: it gets an IdP of its own settings.
        output.WriteLine($"Restarting the identity provider with IdentityProvider:SessionIdleTimeout={settings.IdleTimeout} (scanned every second) for the last trigger.");
        output.WriteLine();
        _admin?.Dispose();
        _admin = null;
        await DisposeBobAsync();
        await hosts.RestartIdentityProviderAsync([$"--IdentityProvider:SessionIdleTimeout={settings.IdleTimeout}", "--IdentityProvider:SessionExpirationScanInterval=00:00:01"], cancellationToken);
        await RunTriggerAsync($"IdP session idle expiry ({settings.IdleTimeout.TotalSeconds:0} s without activity)", bystanderSurvives: null, _ =>
            Task.FromResult($"nothing: the session is left idle (expected to end at T+{settings.IdleTimeout.TotalMilliseconds:0} ms)"), cancellationToken,
            extraWait: settings.IdleTimeout + settings.TriggerTimeout);

        await DisposeBobAsync();
        _admin?.Dispose();

        output.WriteLine("Summary");
        foreach (var (trigger, passed, detail) in _results)
        {
            output.WriteLine($"  {(passed ? "PASS" : "FAIL")}  {trigger}{(passed ? string.Empty : " — " + detail)}");
        }

        var failed = _results.Count(r => !r.Passed);
        output.WriteLine(failed == 0 ? $"All {_results.Count} triggers closed their connections." : $"{failed} of {_results.Count} triggers failed.");
        return failed == 0 ? 0 : 1;
    }

    private async Task RunTriggerAsync(string name, bool? bystanderSurvives, Func<Session, Task<string>> trigger, CancellationToken cancellationToken, TimeSpan? extraWait = null)
    {
        var number = _results.Count + 1;
        output.WriteLine($"[{number}] {name}");
        var problems = new List<string>();
        Session? alice = null;
        try
        {
            alice = await OpenSessionAsync(users.Alice.UserName, _alicePassword, cancellationToken);
            if (bystanderSurvives is not null && (_bob is null || !_bob.BothOpen))
            {
                await DisposeBobAsync();
                _bob = await OpenSessionAsync(users.Bob.UserName, users.Bob.Password, cancellationToken);
            }

            output.WriteLine($"    alice signed in (sub {Short(alice.Subject)}, sid {Short(alice.SessionId)}): cookie and bearer hub connections open");

            var t0 = Stopwatch.GetTimestamp();
            var clock = DateTimeOffset.Now;
            var answer = await trigger(alice);
            var answered = Stopwatch.GetTimestamp();
            output.WriteLine($"    T        {clock:HH:mm:ss.fff}  revoked: {answer}");
            output.WriteLine($"    T+{Ms(t0, answered),6} ms  the IdP answered");

            var wait = extraWait ?? settings.TriggerTimeout;
            var signal = await WaitForSignalAsync(alice, t0, wait, cancellationToken);
            if (signal is { } s)
            {
                var what = string.Join(", ", new[]
                {
                    s.Signal.SessionId is { } sid ? "sid " + Short(sid) : null,
                    s.Signal.SessionId is null && s.Signal.Subject is { } sub ? "sub " + Short(sub) : null,
                    s.Signal.TokenIds.Count > 0 ? $"{s.Signal.TokenIds.Count} jti" : null,
                    "reason " + (s.Signal.Reason ?? "(none)"),
                }.Where(x => x is not null));
                output.WriteLine($"    T+{Ms(t0, s.At),6} ms  logout token delivered to the client app ({what})");
            }
            else
            {
                problems.Add("no logout token reached the client app");
                output.WriteLine($"    T+{wait.TotalMilliseconds,6:0} ms  NO logout token reached the client app");
            }

            foreach (var connection in new[] { alice.CookieConnection, alice.BearerConnection })
            {
                var closed = await WaitAsync(connection.Closed, signal is null ? TimeSpan.FromSeconds(1) : wait, cancellationToken);
                if (closed is { } at)
                {
                    output.WriteLine($"    T+{Ms(t0, at),6} ms  {connection.Name} connection closed{(connection.SignedOutReason is { } reason ? $" (signedOut: {reason})" : string.Empty)}");
                }
                else
                {
                    problems.Add($"the {connection.Name} connection stayed open");
                    output.WriteLine($"    {"",9}    {connection.Name} connection STILL OPEN");
                }
            }

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(settings.TriggerTimeout);
            var cookieAgain = await LiveHubConnection.TryReconnectAsync(Hub, alice.ClientCookies, null, timeout.Token);
            var tokenAgain = await LiveHubConnection.TryReconnectAsync(Hub, null, alice.Tokens.AccessToken, timeout.Token);
            output.WriteLine($"    {"",9}    old cookie: {cookieAgain}; old access token: {tokenAgain}");
            if (!cookieAgain.StartsWith("refused", StringComparison.Ordinal))
            {
                problems.Add("the old cookie was accepted");
            }

            if (!tokenAgain.StartsWith("refused", StringComparison.Ordinal))
            {
                problems.Add("the old access token was accepted");
            }

            if (bystanderSurvives is { } survives && _bob is not null)
            {
                await Task.Delay(200, cancellationToken);
                if (survives)
                {
                    output.WriteLine($"    {"",9}    bob's connections: {(_bob.BothOpen ? "still open" : "CLOSED")}");
                    if (!_bob.BothOpen)
                    {
                        problems.Add("bob's connections closed too");
                    }
                }
                else
                {
                    output.WriteLine($"    {"",9}    bob's connections: {(_bob.BothOpen ? "still open" : "closed too")} (every grant of {ClientId} was revoked)");
                }
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            problems.Add(e.Message);
            output.WriteLine($"    ERROR {e.GetType().Name}: {e.Message}");
            foreach (var frame in (e.StackTrace ?? string.Empty).Split('\n').Where(f => f.Contains("AutoSignOut.", StringComparison.Ordinal)).Take(3))
            {
                output.WriteLine("      " + frame.Trim());
            }
        }
        finally
        {
            if (alice is not null)
            {
                await alice.DisposeAsync();
            }
        }

        var passed = problems.Count == 0;
        output.WriteLine($"    {(passed ? "PASS" : "FAIL: " + string.Join("; ", problems))}");
        output.WriteLine();
        _results.Add((name, passed, string.Join("; ", problems)));
    }

    private async Task<Session> OpenSessionAsync(string userName, string password, CancellationToken cancellationToken)
    {
        var agent = new UserAgent();
        try
        {
            await agent.SignInThroughClientAppAsync(_client, userName, password, cancellationToken);
            var tokens = await agent.GetTokensAsync(_idp, ClientId, new Uri(_client, "/signin-oidc"), cancellationToken);
            var subject = TokenSet.Claim(tokens.IdentityToken, "sub") ?? throw new InvalidOperationException("The identity token has no sub.");
            var sid = TokenSet.Claim(tokens.IdentityToken, "sid") ?? "(no sid)";
            var cookies = agent.CookiesNamed(_client, ClientCookie);
            if (cookies.Count == 0)
            {
                throw new InvalidOperationException("The client app set no session cookie.");
            }

            var cookieConnection = await LiveHubConnection.ConnectAsync(Hub, "cookie", cookies, null, cancellationToken);
            var bearerConnection = await LiveHubConnection.ConnectAsync(Hub, "bearer", null, tokens.AccessToken, cancellationToken);
            return new Session(agent, subject, sid, tokens, cookies, cookieConnection, bearerConnection);
        }
        catch
        {
            agent.Dispose();
            throw;
        }
    }

    private async Task<UserAgent> AdminAsync(CancellationToken cancellationToken)
    {
        if (_admin is null)
        {
            _admin = new UserAgent();
            await _admin.SignInAtIdentityProviderAsync(_idp, users.Admin.UserName, users.Admin.Password, cancellationToken);
        }

        return _admin;
    }

    private async Task<(long At, SignOutSignal Signal)?> WaitForSignalAsync(Session session, long since, TimeSpan wait, CancellationToken cancellationToken)
    {
        var jti = TokenSet.Claim(session.Tokens.AccessToken, "jti");
        var deadline = since + (long)(wait.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            foreach (var entry in hosts.Signals)
            {
                var signal = entry.Signal;
                if (entry.At >= since && (signal.SessionId == session.SessionId
                    || (signal.SessionId is null && signal.Subject == session.Subject)
                    || (jti is not null && signal.TokenIds.Contains(jti))))
                {
                    return entry;
                }
            }

            await Task.Delay(5, cancellationToken);
        }

        return null;
    }

    private static async Task<long?> WaitAsync(Task<long> task, TimeSpan wait, CancellationToken cancellationToken)
    {
        var done = await Task.WhenAny(task, Task.Delay(wait, cancellationToken));
        return done == task ? await task : null;
    }

    private async Task DisposeBobAsync()
    {
        if (_bob is not null)
        {
            await _bob.DisposeAsync();
            _bob = null;
        }
    }

    private static string Expect(HttpResponseMessage response, HttpStatusCode status, string? locationPath)
    {
        var location = response.Headers.Location;
        var request = $"{response.RequestMessage!.Method} {response.RequestMessage.RequestUri!.AbsolutePath}";
        if (response.StatusCode != status || (locationPath is not null && location?.AbsolutePath != locationPath))
        {
            throw new InvalidOperationException($"{request} answered {(int)response.StatusCode} {location}");
        }

        return $"{request} -> {(int)response.StatusCode}{(location is null ? string.Empty : " " + location.GetLeftPart(UriPartial.Path))}";
    }

    private static string Ms(long from, long to) =>
        ((to - from) * 1000.0 / Stopwatch.Frequency).ToString("0", CultureInfo.InvariantCulture);

    private static string Short(string value) => value.Length <= 8 ? value : value[..8] + "…";

    private sealed record Session(UserAgent Agent, string Subject, string SessionId, TokenSet Tokens, IReadOnlyList<Cookie> ClientCookies, LiveHubConnection CookieConnection, LiveHubConnection BearerConnection) : IAsyncDisposable
    {
        public bool BothOpen => CookieConnection.IsOpen && BearerConnection.IsOpen;

        public async ValueTask DisposeAsync()
        {
            await CookieConnection.DisposeAsync();
            await BearerConnection.DisposeAsync();
            Agent.Dispose();
        }
    }
}
