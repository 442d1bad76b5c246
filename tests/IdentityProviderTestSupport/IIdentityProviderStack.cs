namespace AutoSignOut.Testing.IdentityProviders;

/// <summary>
/// An identity provider and hosts/ClientApp pointed at it, as the binding tests (OpenIddict, Duende) start them: what
/// <see cref="TestUser"/> needs to sign in through the real code flow and hold live connections. The files of this
/// folder are compiled into each binding's test project.
/// </summary>
internal interface IIdentityProviderStack
{
    /// <summary>The IdP's base address, without a trailing slash.</summary>
    string IdpAddress { get; }

    /// <summary>The client app's base address, without a trailing slash.</summary>
    string ClientAddress { get; }

    /// <summary>The client app's client id at the IdP.</summary>
    string ClientId { get; }

    /// <summary>The scopes of the test's own code flow for the client, space-separated.</summary>
    string CodeFlowScopes { get; }

    /// <summary>The IdP's logout path (an end-session endpoint or a logout page).</summary>
    string LogoutPath { get; }
}
