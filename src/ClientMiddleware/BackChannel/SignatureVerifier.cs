using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.IdentityModel.Tokens;

namespace AutoSignOut.AspNetCore;

/// <summary>
/// Verifies JWS signatures for one key. RSA and EC keys are turned into a .NET key object once and verified directly
/// (RFC 7518 §3.3–3.5); other key types go through IdentityModel's <see cref="CryptoProviderFactory"/>. A key
/// verifies only algorithms of its own family, so an RSA key can never check an HMAC; a key that names its own
/// <c>alg</c> verifies only that one (RFC 7517 §4.4); an RSA key under 2048 bits verifies nothing (RFC 7518 §3.3).
/// </summary>
internal sealed class SignatureVerifier
{
    private const int MinimumRsaKeySize = 2048;
    private readonly SecurityKey _key;
    private readonly RSA? _rsa;
    private readonly ECDsa? _ecdsa;
    private readonly string? _algorithm;
    private readonly bool _unusable;

    private readonly IReadOnlySet<string>? _algorithms;

    /// <summary>Creates a verifier for <paramref name="key"/>.</summary>
    /// <param name="key">The key.</param>
    /// <param name="algorithms">The algorithms the key's provider says it signs with, or <see langword="null"/> for any allowed one.</param>
    public SignatureVerifier(SecurityKey key, IReadOnlySet<string>? algorithms = null)
    {
        _key = key;
        _algorithms = algorithms;
        _algorithm = key is JsonWebKey { Alg: { Length: > 0 } alg } ? alg : null;
        try
        {
            (_rsa, _ecdsa) = Load(key);
        }
        catch (CryptographicException)
        {
            (_rsa, _ecdsa) = (null, null);
            _unusable = true;
        }

        if (_rsa is { KeySize: < MinimumRsaKeySize } || (key is RsaSecurityKey or JsonWebKey { Kty: JsonWebAlgorithmsKeyTypes.RSA } && _rsa is null))
        {
            _unusable = true;
        }
    }

    private static (RSA? Rsa, ECDsa? Ecdsa) Load(SecurityKey key) =>
        key switch
        {
            RsaSecurityKey { Rsa: { } rsa } => (rsa, (ECDsa?)null),
            RsaSecurityKey rsaKey => (RSA.Create(rsaKey.Parameters), null),
            ECDsaSecurityKey { ECDsa: { } ec } => (null, ec),
            JsonWebKey { Kty: JsonWebAlgorithmsKeyTypes.RSA, N: null, X5c: [{ } certificate, ..] } =>
                (X509CertificateLoader.LoadCertificate(Convert.FromBase64String(certificate)).GetRSAPublicKey(), null),
            JsonWebKey { Kty: JsonWebAlgorithmsKeyTypes.RSA, N: { } n, E: { } e } => (RSA.Create(new RSAParameters { Modulus = Base64UrlEncoder.DecodeBytes(n), Exponent = Base64UrlEncoder.DecodeBytes(e) }), null),
            JsonWebKey { Kty: JsonWebAlgorithmsKeyTypes.EllipticCurve, Crv: { } crv, X: { } x, Y: { } y } when Curve(crv) is { } curve =>
                (null, ECDsa.Create(new ECParameters { Curve = curve, Q = new ECPoint { X = Base64UrlEncoder.DecodeBytes(x), Y = Base64UrlEncoder.DecodeBytes(y) } })),
            X509SecurityKey x509 => (x509.Certificate.GetRSAPublicKey(), x509.Certificate.GetECDsaPublicKey()),
            _ => (null, null),
        };

    public string? KeyId => _key.KeyId;

    public bool Verify(string algorithm, byte[] input, byte[] signature)
    {
        if (_unusable || (_algorithm is not null && !string.Equals(_algorithm, algorithm, StringComparison.Ordinal))
            || (_algorithms is not null && !_algorithms.Contains(algorithm)))
        {
            return false;
        }

        try
        {
            switch (algorithm)
            {
                case "RS256" when _rsa is not null: return _rsa.VerifyData(input, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
                case "RS384" when _rsa is not null: return _rsa.VerifyData(input, signature, HashAlgorithmName.SHA384, RSASignaturePadding.Pkcs1);
                case "RS512" when _rsa is not null: return _rsa.VerifyData(input, signature, HashAlgorithmName.SHA512, RSASignaturePadding.Pkcs1);
                case "PS256" when _rsa is not null: return _rsa.VerifyData(input, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pss);
                case "PS384" when _rsa is not null: return _rsa.VerifyData(input, signature, HashAlgorithmName.SHA384, RSASignaturePadding.Pss);
                case "PS512" when _rsa is not null: return _rsa.VerifyData(input, signature, HashAlgorithmName.SHA512, RSASignaturePadding.Pss);
                case "ES256" when _ecdsa is { KeySize: 256 }: return _ecdsa.VerifyData(input, signature, HashAlgorithmName.SHA256);
                case "ES384" when _ecdsa is { KeySize: 384 }: return _ecdsa.VerifyData(input, signature, HashAlgorithmName.SHA384);
                case "ES512" when _ecdsa is { KeySize: 521 }: return _ecdsa.VerifyData(input, signature, HashAlgorithmName.SHA512);
            }

            if (_rsa is not null || _ecdsa is not null)
            {
                return false;
            }

            var factory = _key.CryptoProviderFactory;
            if (!factory.IsSupportedAlgorithm(algorithm, _key))
            {
                return false;
            }

            var verifier = factory.CreateForVerifying(_key, algorithm);
            try
            {
                return verifier.Verify(input, signature);
            }
            finally
            {
                factory.ReleaseSignatureProvider(verifier);
            }
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    private static ECCurve? Curve(string crv) => crv switch
    {
        "P-256" => ECCurve.NamedCurves.nistP256,
        "P-384" => ECCurve.NamedCurves.nistP384,
        "P-521" => ECCurve.NamedCurves.nistP521,
        _ => null,
    };
}
