using System.Net;
using System.Net.Sockets;

namespace AutoSignOut.IdentityServer;

/// <summary>
/// Which addresses a back-channel logout request may connect to, checked on the addresses DNS resolved to (so a
/// name that resolves to a metadata service is refused as surely as the literal address).
/// </summary>
/// <remarks>
/// Link-local addresses (169.254.0.0/16, fe80::/10), which hold the cloud metadata services, and the other known
/// metadata addresses are refused unless <see cref="AllowLinkLocal"/> is set. Loopback and private ranges are a
/// deliberate choice of the host: allowed by default because clients on the same host or network are the common
/// case for an IdP; turn them off when every client is on the public internet.
/// </remarks>
public sealed class LogoutEndpointAddressPolicy
{
    /// <summary>Whether loopback addresses (127.0.0.0/8, ::1) may be called. Default: <see langword="true"/>.</summary>
    public bool AllowLoopback { get; set; } = true;

    /// <summary>
    /// Whether private addresses (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7) may be called. Default:
    /// <see langword="true"/>.
    /// </summary>
    public bool AllowPrivateNetworks { get; set; } = true;

    /// <summary>
    /// Whether link-local and metadata addresses (169.254.0.0/16, fe80::/10, fd00:ec2::254, 100.100.100.200) may be
    /// called. Default: <see langword="false"/>.
    /// </summary>
    public bool AllowLinkLocal { get; set; }

    /// <summary>Returns why <paramref name="address"/> is refused, or <see langword="null"/> when it may be called.</summary>
    /// <param name="address">A resolved address.</param>
    /// <returns>The reason for refusing, or <see langword="null"/>.</returns>
    public string? Refuses(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (IPAddress.IsLoopback(address))
        {
            return AllowLoopback ? null : "loopback";
        }

        if (IsLinkLocalOrMetadata(address))
        {
            return AllowLinkLocal ? null : "link-local or metadata";
        }

        if (IsPrivate(address))
        {
            return AllowPrivateNetworks ? null : "private network";
        }

        if (address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) || address.Equals(IPAddress.Broadcast))
        {
            return "unspecified";
        }

        return null;
    }

    private static bool IsLinkLocalOrMetadata(IPAddress address)
    {
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            return (b[0] == 169 && b[1] == 254) || (b[0] == 100 && b[1] == 100 && b[2] == 100 && b[3] == 200);
        }

        return address.IsIPv6LinkLocal || address.Equals(Ec2MetadataV6);
    }

    private static bool IsPrivate(IPAddress address)
    {
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            return b[0] == 10 || (b[0] == 172 && (b[1] & 0xF0) == 16) || (b[0] == 192 && b[1] == 168) || (b[0] == 100 && (b[1] & 0xC0) == 64);
        }

        return address.IsIPv6UniqueLocal || address.IsIPv6SiteLocal;
    }

    private static readonly IPAddress Ec2MetadataV6 = IPAddress.Parse("fd00:ec2::254");
}

/// <summary>Thrown by the connect step when every address of an endpoint is refused by the policy.</summary>
internal sealed class EndpointAddressRefusedException(string message) : IOException(message);
