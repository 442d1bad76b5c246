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
        var replay = provider.GetRequiredService<ILogoutTokenReplayCache>();
        var verifier = new SignatureVerifier(new RsaSecurityKey(rsa.ExportParameters(false)) { KeyId = "k" });
        const int n = 5000;
        var tokens = Enumerable.Range(0, n).Select(i => Token(rsa, "s" + i)).ToArray();
        var input = Encoding.ASCII.GetBytes(tokens[0][..tokens[0].LastIndexOf('.')]);
        var signature = Base64UrlEncoder.DecodeBytes(tokens[0][(tokens[0].LastIndexOf('.') + 1)..]);
        JwsParts.TryParse(tokens[0], out var first, out _);

        // Each step in rounds of n until a round is no longer 5% faster than the best before it (at least 4): a single
        // short loop runs at tier 0 of the JIT and overstates the managed steps several times (RSA is native).
        var verifyUs = await SteadyAsync(n, i =>
        {
            rsa.VerifyData(input, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            return ValueTask.CompletedTask;
        });
        var parseUs = await SteadyAsync(n, i =>
        {
            JwsParts.TryParse(tokens[i], out var parts, out _);
            parts.Payload.Dispose();
            return ValueTask.CompletedTask;
        });
        var keyVerifyUs = await SteadyAsync(n, i =>
        {
            verifier.Verify("RS256", first.SigningInput, first.Signature);
            return ValueTask.CompletedTask;
        });
        first.Payload.Dispose();
        var round = 0;
        var replayUs = await SteadyAsync(n, async i =>
        {
            var jti = "j" + round + "-" + i;
            if (i == n - 1)
            {
                round++;
            }

            if (!await replay.ContainsAsync("https://op", jti))
            {
                await replay.TryAddAsync("https://op", jti, DateTimeOffset.UtcNow.AddMinutes(2));
            }
        });
        var signals = new SignOutSignal[n];
        var validateUs = await SteadyAsync(n, async i => signals[i] = (await validator.ValidateAsync(tokens[i], default)).Signal!);
        var processUs = await SteadyAsync(n, i => processor.ProcessAsync(signals[i]));
        Console.WriteLine($"RSA-2048 verify alone: {verifyUs:0.0} us; full validation: {validateUs:0.0} us (parse {parseUs:0.0}, verify through the key {keyVerifyUs:0.0}, claims and the rest {validateUs - parseUs - keyVerifyUs:0.0}); replay check and record: {replayUs:0.0} us; signal processing: {processUs:0.0} us");
    }

    /// <summary>Microseconds per call of <paramref name="body"/> in its steady state.</summary>
    private static async Task<double> SteadyAsync(int n, Func<int, ValueTask> body)
    {
        var best = double.MaxValue;
        var watch = new Stopwatch();
        for (var round = 0; round < 12; round++)
        {
            watch.Restart();
            for (var i = 0; i < n; i++)
            {
                await body(i);
            }

            var us = watch.Elapsed.TotalMicroseconds / n;
            if (round >= 3 && us > best * 0.95)
            {
                return Math.Min(us, best);
            }

            best = Math.Min(best, us);
            await Task.Delay(50);
        }

        return best;
    }

    private static string Token(RSA key, string sid) => BenchLogoutTokens.Create(key, "https://op", "c", sub: null, sid, keyId: "k");
}
