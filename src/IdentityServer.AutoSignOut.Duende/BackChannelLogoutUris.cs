namespace AutoSignOut.IdentityServer.Duende;

/// <summary>What the binding accepts as a client's <c>BackChannelLogoutUri</c>.</summary>
internal static class BackChannelLogoutUris
{
    /// <summary>An absolute http(s) URI without a fragment (OIDC Back-Channel Logout 1.0 §2.2).</summary>
    public static bool TryParse(string? value, out Uri uri)
    {
        if (Uri.TryCreate(value, UriKind.Absolute, out var parsed)
            && (parsed.Scheme == Uri.UriSchemeHttp || parsed.Scheme == Uri.UriSchemeHttps)
            && string.IsNullOrEmpty(parsed.Fragment))
        {
            uri = parsed;
            return true;
        }

        uri = null!;
        return false;
    }
}
