using System.Security.Cryptography;
using Microsoft.IdentityModel.Tokens;

namespace AutoSignOut.IdentityProvider;

/// <summary>
/// The IdP's RSA signing and encryption keys, kept as PEM files in <c>IdentityProvider:KeysPath</c> and created on
/// first start, so tokens (and the JWKS clients cached) stay valid across restarts. Production IdPs load keys from
/// a certificate store or a key vault and rotate them; these files are for the demo.
/// </summary>
public static class SigningKeys
{
    /// <summary>Loads the key stored under <paramref name="name"/>, creating it when missing.</summary>
    /// <param name="folder">The keys folder.</param>
    /// <param name="name">The file name without extension: <c>signing</c> or <c>encryption</c>.</param>
    public static RsaSecurityKey LoadOrCreate(string folder, string name)
    {
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, name + ".pem");
        var rsa = RSA.Create();
        if (File.Exists(path))
        {
            rsa.ImportFromPem(File.ReadAllText(path));
        }
        else
        {
            rsa.KeySize = 2048;
            var pem = rsa.ExportPkcs8PrivateKeyPem();
            var temporary = path + ".tmp";
            File.WriteAllText(temporary, pem);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(temporary, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }

            File.Move(temporary, path, overwrite: true);
        }

        var key = new RsaSecurityKey(rsa);
        key.KeyId = Base64UrlEncoder.Encode(key.ComputeJwkThumbprint())[..16];
        return key;
    }
}
