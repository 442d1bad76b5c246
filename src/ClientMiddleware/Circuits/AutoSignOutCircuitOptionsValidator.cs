using Microsoft.Extensions.Options;

namespace AutoSignOut.AspNetCore;

/// <summary>Refuses invalid circuit settings at start.</summary>
internal sealed class AutoSignOutCircuitOptionsValidator : IValidateOptions<AutoSignOutCircuitOptions>
{
    public ValidateOptionsResult Validate(string? name, AutoSignOutCircuitOptions options)
    {
        if (string.IsNullOrEmpty(options.SignedOutPath) || !options.SignedOutPath.StartsWith('/') || options.SignedOutPath.StartsWith("//", StringComparison.Ordinal))
        {
            return ValidateOptionsResult.Fail("SignedOutPath must be an app-relative path starting with a single '/'.");
        }

        if (options.NavigationGracePeriod < TimeSpan.Zero || options.NavigationGracePeriod > TimeSpan.FromSeconds(30))
        {
            return ValidateOptionsResult.Fail("NavigationGracePeriod must be between 0 and 30 seconds.");
        }

        return options.ReasonQueryParameter is { Length: 0 }
            ? ValidateOptionsResult.Fail("ReasonQueryParameter must be null or a name.")
            : ValidateOptionsResult.Success;
    }
}
