using System.Security.Cryptography;
using Microsoft.IdentityModel.Tokens;

namespace AutoSignOut.IdentityServer.Tests.Infrastructure;

/// <summary>The IdP's identity in tests: an issuer and one RSA key pair.</summary>
internal static class TestKeys
{
    public const string Issuer = "https://idp.test";

    private static readonly RSA Rsa = RSA.Create(2048);

    public static RsaSecurityKey PrivateKey { get; } = new(Rsa) { KeyId = "idp-key-1" };

    public static RsaSecurityKey PublicKey { get; } = new(Rsa.ExportParameters(false)) { KeyId = "idp-key-1" };

    public static SigningCredentials Signing { get; } = new(PrivateKey, SecurityAlgorithms.RsaSha256);
}
