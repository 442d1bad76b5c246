using System.Collections.Immutable;
using System.Text.Json;

namespace AutoSignOut.IdentityServer.OpenIddict;

/// <summary>A client's back-channel logout settings read from its OpenIddict application properties.</summary>
internal readonly record struct BackChannelLogoutSettings(Uri? Uri, bool SessionRequired, bool Invalid)
{
    public static bool IsValidUri(Uri uri) =>
        uri.IsAbsoluteUri && (uri.Scheme == System.Uri.UriSchemeHttps || uri.Scheme == System.Uri.UriSchemeHttp) && string.IsNullOrEmpty(uri.Fragment) && !string.IsNullOrEmpty(uri.Host);

    public static BackChannelLogoutSettings Read(ImmutableDictionary<string, JsonElement> properties)
    {
        var required = properties.TryGetValue(AutoSignOutOpenIddictDefaults.BackChannelLogoutSessionRequiredProperty, out var flag) && flag.ValueKind == JsonValueKind.True;
        if (!properties.TryGetValue(AutoSignOutOpenIddictDefaults.BackChannelLogoutUriProperty, out var value))
        {
            return new(null, required, Invalid: false);
        }

        return value.ValueKind == JsonValueKind.String && System.Uri.TryCreate(value.GetString(), UriKind.Absolute, out var uri) && IsValidUri(uri)
            ? new(uri, required, Invalid: false)
            : new(null, required, Invalid: true);
    }

    /// <summary>The validation errors of the settings, for the application manager.</summary>
    public static IEnumerable<string> Validate(ImmutableDictionary<string, JsonElement> properties)
    {
        if (properties.TryGetValue(AutoSignOutOpenIddictDefaults.BackChannelLogoutUriProperty, out var value)
            && (value.ValueKind != JsonValueKind.String || !System.Uri.TryCreate(value.GetString(), UriKind.Absolute, out var uri) || !IsValidUri(uri)))
        {
            yield return "The back-channel logout URI must be an absolute http or https URI without a fragment.";
        }

        if (properties.TryGetValue(AutoSignOutOpenIddictDefaults.BackChannelLogoutSessionRequiredProperty, out var flag)
            && flag.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
        {
            yield return "backchannel_logout_session_required must be true or false.";
        }
    }
}
