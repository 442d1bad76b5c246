using Microsoft.Extensions.Options;

namespace AutoSignOut.IdentityServer.Duende;

/// <summary>Refuses, when the host starts, settings the binding cannot work with.</summary>
internal sealed class AutoSignOutDuendeOptionsValidator : IValidateOptions<AutoSignOutDuendeOptions>
{
    public ValidateOptionsResult Validate(string? name, AutoSignOutDuendeOptions options)
    {
        if (options.Issuer is { } issuer && !Uri.TryCreate(issuer, UriKind.Absolute, out _))
        {
            return ValidateOptionsResult.Fail("AutoSignOutDuendeOptions.Issuer must be an absolute URI.");
        }

        return options.NotificationRetryWindow < TimeSpan.Zero || options.NotificationRetryWindow > TimeSpan.FromDays(1)
            ? ValidateOptionsResult.Fail("AutoSignOutDuendeOptions.NotificationRetryWindow must be between zero (no retries) and one day.")
            : ValidateOptionsResult.Success;
    }
}
