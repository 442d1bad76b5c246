using Microsoft.Extensions.Options;

namespace AutoSignOut.IdentityServer.Duende;

/// <summary>Refuses, when the host starts, settings the binding cannot work with.</summary>
internal sealed class AutoSignOutDuendeOptionsValidator : IValidateOptions<AutoSignOutDuendeOptions>
{
    public ValidateOptionsResult Validate(string? name, AutoSignOutDuendeOptions options) =>
        options.Issuer is { } issuer && !Uri.TryCreate(issuer, UriKind.Absolute, out _)
            ? ValidateOptionsResult.Fail("AutoSignOutDuendeOptions.Issuer must be an absolute URI.")
            : ValidateOptionsResult.Success;
}
