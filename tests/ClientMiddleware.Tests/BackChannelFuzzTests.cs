using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using AutoSignOut.AspNetCore.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AutoSignOut.AspNetCore.Tests;

/// <summary>
/// A bounded fuzz of the back-channel endpoint with live connections open: structure-aware mutations of valid logout
/// tokens (headers and claims of the wrong type, numbers at the edges, deep and duplicate JSON, base64url garbage,
/// unicode, truncations, forged signatures) and of the request around them (methods, content types, sizes, fields).
/// Only the interleaved control tokens are valid. Every answer must be 200/400/405/413/415, with no server error, no
/// connection closed and no revocation but the controls'. Each request is generated from (seed, index) alone, so the
/// run is reproducible whatever the concurrency: the seed is printed; set AUTOSIGNOUT_FUZZ_SEED to replay it (and
/// AUTOSIGNOUT_FUZZ_COUNT to change the number of requests, 10,000 by default).
/// </summary>
[TestClass]
public sealed class BackChannelFuzzTests
{
    private const int ControlEvery = 250;
    private static readonly HashSet<HttpStatusCode> Allowed =
        [HttpStatusCode.OK, HttpStatusCode.BadRequest, HttpStatusCode.MethodNotAllowed, HttpStatusCode.RequestEntityTooLarge, HttpStatusCode.UnsupportedMediaType];

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task Ten_thousand_mutated_requests_get_only_200_400_405_413_415_and_change_nothing()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("AUTOSIGNOUT_FUZZ_SEED"), out var s) ? s : Random.Shared.Next();
        var count = int.TryParse(Environment.GetEnvironmentVariable("AUTOSIGNOUT_FUZZ_COUNT"), out var c) ? c : 10_000;
        TestContext.WriteLine($"fuzz seed {seed} ({count} requests); replay with AUTOSIGNOUT_FUZZ_SEED={seed}");
        Console.WriteLine($"fuzz seed {seed} ({count} requests); replay with AUTOSIGNOUT_FUZZ_SEED={seed}");

        await using var op = await TestOpenIdProvider.StartAsync();
        var signals = new ConcurrentQueue<SignOutSignal>();
        await using var app = await TestClientApp.StartAsync(op, o => o.Events.OnSignal = context =>
        {
            signals.Enqueue(context.Signal);
            return Task.CompletedTask;
        });

        // The victims: every mutated token names them, so a token wrongly accepted would close them.
        var victims = new List<HubClient>();
        var browsers = new List<TestClientApp.Browser>();
        for (var i = 0; i < 3; i++)
        {
            var browser = app.CreateBrowser();
            browsers.Add(browser);
            await browser.SignInAsync(Victim, VictimSession + i);
            victims.Add(await browser.ConnectAsync());
        }

        victims.Add(await app.ConnectWithTokenAsync(op.AccessToken(Victim, VictimSession + "b", out var victimJti)));
        var fuzzer = new Fuzzer(op, seed, victimJti);
        var failures = new ConcurrentQueue<string>();
        var controls = 0;
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = 8 };
        using var http = new HttpClient(handler) { BaseAddress = new Uri(app.BaseAddress), Timeout = TimeSpan.FromSeconds(30) };
        try
        {
            await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (index, cancellationToken) =>
            {
                var isControl = index % ControlEvery == ControlEvery - 1;
                using var request = isControl ? fuzzer.Control(index) : fuzzer.Mutant(index, out string _);
                var description = isControl ? "control" : fuzzer.Describe(index);
                HttpResponseMessage response;
                try
                {
                    response = await http.SendAsync(request, cancellationToken);
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    failures.Enqueue($"#{index} ({description}): no answer: {e.Message}");
                    return;
                }

                using (response)
                {
                    if (!Allowed.Contains(response.StatusCode))
                    {
                        failures.Enqueue($"#{index} ({description}): {(int)response.StatusCode}");
                    }
                    else if (isControl != (response.StatusCode == HttpStatusCode.OK))
                    {
                        failures.Enqueue($"#{index} ({description}): {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                    }

                    if (isControl)
                    {
                        Interlocked.Increment(ref controls);
                    }
                }
            });

            Assert.AreEqual(0, failures.Count, $"seed {seed}: " + string.Join("\n", failures.Take(20)));
            var wrong = signals.Where(x => x.Subject is not { } sub || !sub.StartsWith("control-", StringComparison.Ordinal)).ToList();
            Assert.AreEqual(0, wrong.Count, $"seed {seed}: revocations by requests that were not valid tokens: " + string.Join(", ", wrong.Select(x => x.Subject ?? x.SessionId)));
            Assert.AreEqual(controls, signals.Count, $"seed {seed}: every control token, and only those, took effect");
            var serverErrors = app.Logs.Entries.Where(e => e.Level >= LogLevel.Error).Select(e => e.Category + ": " + e.Message).ToList();
            Assert.AreEqual(0, serverErrors.Count, $"seed {seed}: " + string.Join("\n", serverErrors.Take(5)));
            foreach (var victim in victims)
            {
                await victim.AssertAliveAsync();
            }

            Assert.AreEqual(victims.Count, app.Registry.Count, "no connection was closed");
        }
        finally
        {
            foreach (var victim in victims)
            {
                await victim.DisposeAsync();
            }

            browsers.ForEach(b => b.Dispose());
        }
    }

    private const string Victim = "victim";
    private const string VictimSession = "victim-session-";

    /// <summary>Makes request number <c>index</c> of a run from the seed and the index alone.</summary>
    private sealed class Fuzzer(TestOpenIdProvider op, int seed, string victimJti)
    {
        private static readonly string[] Kinds =
        [
            "header", "claim-type", "subject-type", "claim-edge", "claim-missing", "deep-json", "duplicate-member", "base64-garbage",
            "unicode", "truncation", "signature", "segments", "transport", "forged-key",
        ];

        // Not HashCode.Combine: it is randomized per process, and a seed must replay in another one.
        private Random RandomFor(int index) => new(unchecked((seed * 1_000_003) + index));

        public string Describe(int index)
        {
            var random = RandomFor(index);
            return Kinds[random.Next(Kinds.Length)];
        }

        /// <summary>A valid token for a control user: must be answered 200 and take effect.</summary>
        public HttpRequestMessage Control(int index) => Form(op.LogoutToken(TestClientApp.ClientId, "control-" + index, sid: null));

        public HttpRequestMessage Mutant(int index, out string kind)
        {
            var random = RandomFor(index);
            kind = Kinds[random.Next(Kinds.Length)];
            return kind switch
            {
                "header" => Form(Signed(random, header: h => MutateHeader(random, h))),
                "claim-type" => Form(Signed(random, payload: p => p[Pick(random, TypedClaims)] = OddValue(random))),
                "subject-type" => Form(Signed(random, payload: p =>
                {
                    p["sub"] = NotAString(random);
                    p["sid"] = NotAString(random);
                })),
                "claim-edge" => Form(Signed(random, payload: p => p[Pick(random, ["exp", "iat"])] = EdgeNumber(random))),
                "claim-missing" => Form(Signed(random, payload: p => RemoveRequired(random, p))),
                "deep-json" => Form(DeepJson(random)),
                "duplicate-member" => Form(DuplicateMember(random)),
                "base64-garbage" => Form(Garbage(random)),
                "unicode" => Form(Unicode(random)),
                "truncation" => Form(Truncate(random, Valid(random))),
                "signature" => Form(FlipSignature(random, Valid(random))),
                "segments" => Form(Segments(random, Valid(random))),
                "transport" => Transport(random, Valid(random)),
                _ => Form(TestJwt.Encode(op.LogoutHeader(), VictimPayload(random), TestJwt.Rs256(op.UnpublishedKey))),
            };
        }

        // Claims whose every odd value breaks the token (a free-text claim such as 'reason' or 'jti' would not).
        private static readonly string[] TypedClaims = ["iss", "aud", "iat", "exp", "events", "nonce"];

        private JsonObject VictimPayload(Random random)
        {
            var payload = op.LogoutPayload(TestClientApp.ClientId, Victim, random.Next(2) == 0 ? null : VictimSession + random.Next(3));
            if (random.Next(3) == 0)
            {
                payload["revoked_jti"] = new JsonArray(victimJti);
            }

            return payload;
        }

        /// <summary>A valid token against the victims, to be broken after signing.</summary>
        private string Valid(Random random) => TestJwt.Encode(op.LogoutHeader(), VictimPayload(random), TestJwt.Rs256(op.Key));

        /// <summary>Signed with the provider's real key after a mutation that makes it invalid by the specification.</summary>
        private string Signed(Random random, Action<JsonObject>? header = null, Action<JsonObject>? payload = null)
        {
            var h = op.LogoutHeader();
            var p = VictimPayload(random);
            header?.Invoke(h);
            payload?.Invoke(p);
            return TestJwt.Encode(h, p, TestJwt.Rs256(op.Key));
        }

        private static void MutateHeader(Random random, JsonObject header)
        {
            switch (random.Next(9))
            {
                case 0: header["alg"] = Pick(random, ["none", "None", "HS256", "RS256 ", "rs256", "ES256", "PS256", string.Empty, "RS1"]); break;
                case 1: header["alg"] = OddValue(random); break;
                case 2: header["typ"] = Pick(random, ["at+jwt", "secevent+jwt", "application/at+jwt", "JWS"]); break;

                // An empty typ or kid counts as absent (a valid token): only other odd values here.
                case 3: header["typ"] = NonEmptyOdd(random); break;
                case 4: header["kid"] = NonEmptyOdd(random); break;
                case 5: header["crit"] = new JsonArray("exp"); break;
                case 6: header["enc"] = "A256GCM"; break;
                case 7: header["zip"] = "DEF"; break;
                default: header.Remove("alg"); break;
            }
        }

        private static void RemoveRequired(Random random, JsonObject payload)
        {
            switch (random.Next(7))
            {
                case 0: payload.Remove(Pick(random, ["iss", "aud", "iat", "exp", "jti", "events"])); break;
                case 1: payload.Remove("sub"); payload.Remove("sid"); break;
                case 2: payload["nonce"] = "n-" + random.Next(); break;
                case 3: payload["events"] = new JsonObject { ["http://schemas.openid.net/event/other"] = new JsonObject() }; break;
                case 4: payload["aud"] = "another-client"; break;
                case 5: payload["iss"] = "https://evil.example"; break;
                default: payload["exp"] = DateTimeOffset.UtcNow.AddHours(-1).ToUnixTimeSeconds(); break;
            }
        }

        private static JsonNode? OddValue(Random random) => random.Next(10) switch
        {
            0 => null,
            1 => JsonValue.Create(random.Next()),
            2 => JsonValue.Create(-1.5e308),
            3 => new JsonArray(1, "two", null),
            4 => new JsonObject { ["nested"] = new JsonObject() },
            5 => JsonValue.Create(true),
            6 => JsonValue.Create(string.Empty),
            7 => JsonValue.Create(new string('a', random.Next(1, 5000))),
            8 => new JsonArray(),
            _ => JsonValue.Create("\u0000\uffff\ud7ff"),
        };

        private static JsonNode? NonEmptyOdd(Random random)
        {
            var value = OddValue(random);
            return value is JsonValue text && text.TryGetValue<string>(out var s) && s.Length == 0 ? "unknown" : value;
        }

        private static JsonNode? NotAString(Random random)
        {
            var value = OddValue(random);
            return value is JsonValue text && text.TryGetValue<string>(out _) ? JsonValue.Create(42) : value;
        }

        private static JsonNode? EdgeNumber(Random random) => random.Next(12) switch
        {
            0 => JsonValue.Create(253402300799d),
            1 => JsonValue.Create(253402300800d),
            2 => JsonValue.Create(-1),
            3 => JsonValue.Create(0),
            4 => JsonValue.Create(1e308),
            5 => JsonValue.Create(double.Epsilon),
            6 => JsonValue.Create(long.MaxValue),
            7 => JsonValue.Create(long.MinValue),
            8 => JsonValue.Create("1700000000"),
            9 => JsonValue.Create(DateTimeOffset.UtcNow.AddDays(3650).ToUnixTimeSeconds()),
            10 => JsonValue.Create(-0.0),
            _ => JsonValue.Create(DateTimeOffset.UtcNow.AddYears(-30).ToUnixTimeSeconds()),
        };

        /// <summary>A claim nested 20 to 2,000 levels deep (beyond what a JSON writer would write), signed with the real key.</summary>
        private string DeepJson(Random random)
        {
            var depth = random.Next(20, random.Next(2) == 0 ? 200 : 2000);
            var deep = new StringBuilder();
            for (var i = 0; i < depth; i++)
            {
                deep.Append(i % 2 == 0 ? "[" : "{\"d\":");
            }

            for (var i = depth - 1; i >= 0; i--)
            {
                deep.Append(i % 2 == 0 ? "]" : "}");
            }

            var payload = VictimPayload(random).ToJsonString();
            var name = Pick(random, ["x", "events", "aud"]);
            return TestJwt.EncodeRaw(op.LogoutHeader().ToJsonString(), payload[..^1] + ",\"" + name + "\":" + deep + "}", TestJwt.Rs256(op.Key));
        }

        private string DuplicateMember(Random random)
        {
            var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            var name = Pick(random, ["iss", "aud", "sub", "sid", "events", "exp", "jti"]);
            var payload = VictimPayload(random).ToJsonString();
            var extra = name switch
            {
                "exp" => $"\"exp\":{now + 60}",
                "events" => "\"events\":{\"http://schemas.openid.net/event/backchannel-logout\":{}}",
                _ => $"\"{name}\":\"{Victim}\"",
            };
            var header = random.Next(4) == 0
                ? $"{{\"alg\":\"RS256\",\"alg\":\"RS256\",\"kid\":\"{op.KeyId}\"}}"
                : op.LogoutHeader().ToJsonString();
            // Twice, so the member is duplicated even where the payload had none (an optional 'sid').
            return TestJwt.EncodeRaw(header, payload[..^1] + "," + extra + "," + extra + "}", TestJwt.Rs256(op.Key));
        }

        private static string Garbage(Random random)
        {
            const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ %\r\n\t";
            var length = random.Next(0, random.Next(2) == 0 ? 64 : 4000);
            var chars = new char[length];
            for (var i = 0; i < length; i++)
            {
                chars[i] = alphabet[random.Next(alphabet.Length)];
            }

            return new string(chars);
        }

        private string Unicode(Random random)
        {
            var text = string.Concat(Enumerable.Range(0, random.Next(1, 40)).Select(_ => (char)random.Next(0x80, 0xFFFF)));
            return random.Next(3) switch
            {
                0 => Signed(random, payload: p => p["iss"] = op.Issuer + text),
                1 => Signed(random, header: h => h["kid"] = text),
                _ => text + "." + text + "." + text,
            };
        }

        private static string Truncate(Random random, string token) => token[..random.Next(0, token.Length)];

        private static string FlipSignature(Random random, string token)
        {
            var chars = token.ToCharArray();
            var dot = token.LastIndexOf('.');

            // Not the last character: its unused low bits may change without changing the signature's bytes.
            var at = random.Next(random.Next(2) == 0 ? dot + 1 : 0, chars.Length - 1);
            chars[at] = chars[at] == 'A' ? 'B' : 'A';
            return new string(chars);
        }

        private static string Segments(Random random, string token) => random.Next(5) switch
        {
            0 => token + "." + token.Split('.')[2],
            1 => token + ".",
            2 => "." + token,
            3 => token.Replace(".", "..", StringComparison.Ordinal),
            _ => string.Join('.', token.Split('.').Take(2)),
        };

        private static HttpRequestMessage Transport(Random random, string token)
        {
            switch (random.Next(9))
            {
                case 0:
                    return new HttpRequestMessage(Pick(random, [HttpMethod.Get, HttpMethod.Put, HttpMethod.Delete, HttpMethod.Patch]), AutoSignOutDefaults.BackChannelLogoutPath);
                case 1:
                    return Post(new StringContent($"{{\"logout_token\":\"{token}\"}}", Encoding.UTF8, "application/json"));
                case 2:
                    return Post(new MultipartFormDataContent { { new StringContent(token), "logout_token" } });
                case 3:
                    return Post(new StringContent("logout_token=" + token, Encoding.UTF8, "text/plain"));
                case 4:
                    return Post(new FormUrlEncodedContent([new("logout_token", token), new("logout_token", token)]));
                case 5:
                    return Post(new FormUrlEncodedContent([new("token", token)]));
                case 6:
                    return Post(new FormUrlEncodedContent([new("logout_token", token + new string('A', random.Next(60_000, 70_000)))]));
                case 7:
                    var body = new ByteArrayContent(new byte[random.Next(0, 200_000)]);
                    body.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/x-www-form-urlencoded");
                    return Post(body);
                default:
                    return Post(new FormUrlEncodedContent(Enumerable.Range(0, random.Next(17, 40)).Select(i => new KeyValuePair<string, string>("f" + i, "v"))));
            }
        }

        private static HttpRequestMessage Form(string token) => Post(new FormUrlEncodedContent([new("logout_token", token)]));

        private static HttpRequestMessage Post(HttpContent content) => new(HttpMethod.Post, AutoSignOutDefaults.BackChannelLogoutPath) { Content = content };

        private static T Pick<T>(Random random, T[] values) => values[random.Next(values.Length)];
    }
}
