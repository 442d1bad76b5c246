using System.Text.Json;
using AutoSignOut.IdentityServer.OpenIddict;

namespace OpenIddict.Abstractions;

/// <summary>
/// Registers a client's OIDC Back-Channel Logout 1.0 settings (<c>backchannel_logout_uri</c>,
/// <c>backchannel_logout_session_required</c>) in its OpenIddict application properties.
/// </summary>
public static class AutoSignOutApplicationDescriptorExtensions
{
    /// <summary>Sets the client's back-channel logout URI and whether its logout tokens must carry a <c>sid</c>.</summary>
    /// <param name="descriptor">The application descriptor.</param>
    /// <param name="backChannelLogoutUri">An absolute http or https URI without a fragment.</param>
    /// <param name="sessionRequired">The client's <c>backchannel_logout_session_required</c>; default <see langword="true"/>.</param>
    /// <returns>The descriptor, for chaining.</returns>
    /// <exception cref="ArgumentException">The URI is not an absolute http(s) URI without a fragment.</exception>
    public static OpenIddictApplicationDescriptor SetBackChannelLogout(this OpenIddictApplicationDescriptor descriptor, Uri backChannelLogoutUri, bool sessionRequired = true)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        ArgumentNullException.ThrowIfNull(backChannelLogoutUri);
        if (!BackChannelLogoutSettings.IsValidUri(backChannelLogoutUri))
        {
            throw new ArgumentException("The back-channel logout URI must be an absolute http or https URI without a fragment.", nameof(backChannelLogoutUri));
        }

        descriptor.Properties[AutoSignOutOpenIddictDefaults.BackChannelLogoutUriProperty] = JsonSerializer.SerializeToElement(backChannelLogoutUri.AbsoluteUri);
        descriptor.Properties[AutoSignOutOpenIddictDefaults.BackChannelLogoutSessionRequiredProperty] = JsonSerializer.SerializeToElement(sessionRequired);
        return descriptor;
    }

    /// <summary>Removes the client's back-channel logout settings: it is no longer notified.</summary>
    /// <param name="descriptor">The application descriptor.</param>
    /// <returns>The descriptor, for chaining.</returns>
    public static OpenIddictApplicationDescriptor ClearBackChannelLogout(this OpenIddictApplicationDescriptor descriptor)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        descriptor.Properties.Remove(AutoSignOutOpenIddictDefaults.BackChannelLogoutUriProperty);
        descriptor.Properties.Remove(AutoSignOutOpenIddictDefaults.BackChannelLogoutSessionRequiredProperty);
        return descriptor;
    }
}
