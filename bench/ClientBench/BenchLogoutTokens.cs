using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using AutoSignOut.AspNetCore;
using Microsoft.IdentityModel.Tokens;

namespace AutoSignOut.Bench;

/// <summary>
/// Valid logout tokens for the client benches (RS256, two minutes to live, a fresh <c>jti</c>); bench/RedisBench links
/// this file.
/// </summary>
internal static class BenchLogoutTokens
{
    public static string Create(RSA key, string issuer, string audience, string? sub, string? sid, string keyId = "bench")
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var payload = new JsonObject
        {
            ["iss"] = issuer,
            ["aud"] = audience,
            ["iat"] = now,
            ["exp"] = now + 120,
            ["jti"] = Guid.NewGuid().ToString("N"),
            ["events"] = new JsonObject { [AutoSignOutDefaults.BackChannelLogoutEvent] = new JsonObject() },
        };
        if (sub is not null)
        {
            payload["sub"] = sub;
        }

        if (sid is not null)
        {
            payload["sid"] = sid;
        }

        var input = Base64UrlEncoder.Encode($"{{\"alg\":\"RS256\",\"typ\":\"logout+jwt\",\"kid\":\"{keyId}\"}}") + "." + Base64UrlEncoder.Encode(payload.ToJsonString());
        return input + "." + Base64UrlEncoder.Encode(key.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
    }
}
