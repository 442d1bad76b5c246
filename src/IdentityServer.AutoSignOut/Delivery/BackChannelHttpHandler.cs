using System.Net;
using System.Net.Sockets;

namespace AutoSignOut.IdentityServer;

/// <summary>The primary handler of the back-channel <see cref="HttpClient"/>.</summary>
internal static class BackChannelHttpHandler
{
    public static SocketsHttpHandler Create(AutoSignOutServerOptions options)
    {
        var policy = options.EndpointAddressPolicy;
        return new SocketsHttpHandler
        {
            // A back-channel endpoint answers 200 or 400; a redirect is a misconfiguration, not something to follow.
            AllowAutoRedirect = false,
            // Clients share this handler: one client's cookies must never reach another.
            UseCookies = false,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            // Connecting is part of the attempt, and so is its timeout.
            ConnectTimeout = options.AttemptTimeout,
            ConnectCallback = (context, cancellationToken) => ConnectAsync(policy, context, cancellationToken),
        };
    }

    /// <summary>Resolves the host, drops the addresses the policy refuses, and connects to the first that answers.</summary>
    private static async ValueTask<Stream> ConnectAsync(LogoutEndpointAddressPolicy policy, SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var host = context.DnsEndPoint.Host;
        var addresses = IPAddress.TryParse(host.Trim('[', ']'), out var literal)
            ? [literal]
            : await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
        var allowed = new List<IPAddress>(addresses.Length);
        string? refusal = null;
        foreach (var address in addresses)
        {
            if (policy.Refuses(address) is { } why)
            {
                refusal ??= why;
            }
            else
            {
                allowed.Add(address);
            }
        }

        if (allowed.Count == 0)
        {
            throw new EndpointAddressRefusedException(refusal is null
                ? "the endpoint's host resolved to no address"
                : $"the endpoint address policy refuses the endpoint's address ({refusal})");
        }

        Exception? last = null;
        foreach (var address in allowed)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, context.DnsEndPoint.Port), cancellationToken).ConfigureAwait(false);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                last = ex;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        throw last!;
    }
}
