using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using AutoSignOut.AspNetCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.Tokens;

namespace AutoSignOut.Bench;

/// <summary>Where the time of one valid logout token goes, in-process, without HTTP: RSA verify alone, validation, signal.</summary>
internal static class Micro
{
    public static async Task RunAsync()
    {
        using var rsa = RSA.Create(2048);
        var services = new ServiceCollection();
        services.AddLogging(l => l.ClearProviders());
        services.AddAutoSignOut(o => o.Providers.Add(new OpenIdProvider { Issuer = "https://op", ClientIds = { "c" }, SigningKeys = { new RsaSecurityKey(rsa.ExportParameters(false)) { KeyId = "k" } } }));
        await using var provider = services.BuildServiceProvider();
        var validator = provider.GetRequiredService<LogoutTokenValidator>();
        var processor = provider.GetRequiredService<SignOutSignalProcessor>();
        const int n = 5000;
        var tokens = Enumerable.Range(0, n).Select(i => Token(rsa, "s" + i)).ToArray();
        var input = Encoding.ASCII.GetBytes(tokens[0][..tokens[0].LastIndexOf('.')]);
        var signature = Base64UrlEncoder.DecodeBytes(tokens[0][(tokens[0].LastIndexOf('.') + 1)..]);
        for (var i = 0; i < 500; i++)
        {
            rsa.VerifyData(input, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        }

        var watch = Stopwatch.StartNew();
        for (var i = 0; i < n; i++)
        {
            rsa.VerifyData(input, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        }

        var verifyUs = watch.Elapsed.TotalMicroseconds / n;

        // The validator's steps, one by one: parsing (base64url, JSON), the signature, then everything else.
        watch.Restart();
        for (var i = 0; i < n; i++)
        {
            JwsParts.TryParse(tokens[i], out var parts, out _);
            parts.Payload.Dispose();
        }

        var parseUs = watch.Elapsed.TotalMicroseconds / n;
        var verifier = new SignatureVerifier(new RsaSecurityKey(rsa.ExportParameters(false)) { KeyId = "k" });
        JwsParts.TryParse(tokens[0], out var first, out _);
        watch.Restart();
        for (var i = 0; i < n; i++)
        {
            verifier.Verify("RS256", first.SigningInput, first.Signature);
        }

        var keyVerifyUs = watch.Elapsed.TotalMicroseconds / n;
        first.Payload.Dispose();
        var replay = provider.GetRequiredService<ILogoutTokenReplayCache>();
        watch.Restart();
        for (var i = 0; i < n; i++)
        {
            var jti = "j" + i;
            if (!await replay.ContainsAsync("https://op", jti))
            {
                await replay.TryAddAsync("https://op", jti, DateTimeOffset.UtcNow.AddMinutes(2));
            }
        }

        var replayUs = watch.Elapsed.TotalMicroseconds / n;
        var signals = new SignOutSignal[n];
        watch.Restart();
        for (var i = 0; i < n; i++)
        {
            signals[i] = (await validator.ValidateAsync(tokens[i], default)).Signal!;
        }

        var validateUs = watch.Elapsed.TotalMicroseconds / n;
        watch.Restart();
        for (var i = 0; i < n; i++)
        {
            await processor.ProcessAsync(signals[i]);
        }

        var processUs = watch.Elapsed.TotalMicroseconds / n;
        Console.WriteLine($"RSA-2048 verify alone: {verifyUs:0.0} us; full validation: {validateUs:0.0} us (parse {parseUs:0.0}, verify through the key {keyVerifyUs:0.0}, claims and the rest {validateUs - parseUs - keyVerifyUs:0.0}); replay check and record: {replayUs:0.0} us; signal processing: {processUs:0.0} us");
    }

    private static string Token(RSA key, string sid)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var payload = new JsonObject
        {
            ["iss"] = "https://op",
            ["aud"] = "c",
            ["iat"] = now,
            ["exp"] = now + 120,
            ["jti"] = Guid.NewGuid().ToString("N"),
            ["sid"] = sid,
            ["events"] = new JsonObject { [AutoSignOutDefaults.BackChannelLogoutEvent] = new JsonObject() },
        };
        var input = Base64UrlEncoder.Encode("{\"alg\":\"RS256\",\"typ\":\"logout+jwt\",\"kid\":\"k\"}") + "." + Base64UrlEncoder.Encode(payload.ToJsonString());
        return input + "." + Base64UrlEncoder.Encode(key.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
    }
}
