using AutoSignOut.ClientApp;
using Microsoft.AspNetCore.Builder;

namespace AutoSignOut.Testing.IdentityProviders;

/// <summary>The real hosts/ClientApp as the binding tests run it: on a loopback address, signed in to the IdP under test.</summary>
internal static class ClientAppUnderTest
{
    /// <summary>Starts the client app at <paramref name="clientAddress"/>, trusting the OpenID Provider at <paramref name="authority"/>.</summary>
    public static async Task<WebApplication> StartAsync(string clientAddress, string authority)
    {
        var debug = Environment.GetEnvironmentVariable("AUTOSIGNOUT_TEST_DEBUG") == "1";
        var client = ClientAppHost.Create(
            [
                $"--urls={clientAddress}", "--environment=Development", $"--Oidc:Authority={authority}", "--Oidc:RequireHttpsMetadata=false",
                "--ClientApp:LocalSignIn=false", "--Logging:LogLevel:Default=Warning", $"--Logging:LogLevel:AutoSignOut={(debug ? "Debug" : "Warning")}",
            ]);
        await client.StartAsync();
        return client;
    }
}
