using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;

namespace AutoSignOut.AspNetCore;

/// <summary>Fills derived settings: a provider's metadata address from its authority.</summary>
internal sealed class AutoSignOutPostConfigureOptions : IPostConfigureOptions<AutoSignOutOptions>
{
    public void PostConfigure(string? name, AutoSignOutOptions options)
    {
        foreach (var provider in options.Providers)
        {
            if (string.IsNullOrEmpty(provider.MetadataAddress) && !string.IsNullOrEmpty(provider.Authority))
            {
                provider.MetadataAddress = provider.Authority.TrimEnd('/') + "/.well-known/openid-configuration";
            }
        }
    }
}

/// <summary>Refuses invalid settings at start, not at the first logout token.</summary>
internal sealed class AutoSignOutOptionsValidator : IValidateOptions<AutoSignOutOptions>
{
    private static readonly TimeSpan MaxClockSkew = TimeSpan.FromMinutes(5);

    public ValidateOptionsResult Validate(string? name, AutoSignOutOptions options)
    {
        var failures = new List<string>();
        if (options.AllowedAlgorithms.Count == 0)
        {
            failures.Add("AllowedAlgorithms must name at least one algorithm.");
        }

        if (options.AllowedAlgorithms.Any(a => string.IsNullOrWhiteSpace(a) || a.Equals("none", StringComparison.OrdinalIgnoreCase)))
        {
            failures.Add("AllowedAlgorithms must not contain 'none' or an empty name.");
        }

        if (options.ClockSkew < TimeSpan.Zero || options.ClockSkew > MaxClockSkew)
        {
            failures.Add("ClockSkew must be between 0 and 5 minutes.");
        }

        if (options.MaxLogoutTokenAge is { } age && age <= TimeSpan.Zero)
        {
            failures.Add("MaxLogoutTokenAge must be positive.");
        }

        if (options.MaxRequestBodySize is < 1024 or > 1024 * 1024)
        {
            failures.Add("MaxRequestBodySize must be between 1 KiB and 1 MiB.");
        }

        if (options.RevocationLifetime <= TimeSpan.Zero)
        {
            failures.Add("RevocationLifetime must be positive.");
        }

        if (options.MinimumKeyRefreshInterval < TimeSpan.Zero || options.AutomaticKeyRefreshInterval <= TimeSpan.Zero)
        {
            failures.Add("Key refresh intervals must be positive.");
        }

        if (options.MaxLogoutTokenLifetime <= TimeSpan.Zero || options.MaxLogoutTokenLifetime > TimeSpan.FromDays(1))
        {
            failures.Add("MaxLogoutTokenLifetime must be positive and at most 1 day.");
        }

        if (options.KeyRefreshTimeout <= TimeSpan.Zero || options.KeyRefreshTimeout > TimeSpan.FromMinutes(5))
        {
            failures.Add("KeyRefreshTimeout must be positive and at most 5 minutes.");
        }

        if (options.FarewellTimeout <= TimeSpan.Zero || options.FarewellTimeout > TimeSpan.FromMinutes(1))
        {
            failures.Add("FarewellTimeout must be positive and at most 1 minute.");
        }

        if (string.IsNullOrEmpty(options.LocalIssuer))
        {
            failures.Add("LocalIssuer must be set.");
        }

        if (string.IsNullOrEmpty(options.ClientMethod) || options.ConnectionKeys is null || options.SignalKeys is null || options.Events is null)
        {
            failures.Add("ClientMethod, ConnectionKeys, SignalKeys and Events must be set.");
        }

        var issuers = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < options.Providers.Count; i++)
        {
            var provider = options.Providers[i];
            var label = $"Providers[{i}]";
            if (provider is null)
            {
                failures.Add($"{label} is null.");
                continue;
            }

            if (string.IsNullOrEmpty(provider.ConfiguredIssuer))
            {
                failures.Add($"{label} needs an Issuer or an Authority.");
            }
            else if (!issuers.Add(provider.ConfiguredIssuer))
            {
                failures.Add($"{label}: the issuer '{provider.ConfiguredIssuer}' is configured twice; list all of its client ids on one provider.");
            }

            if (provider.ClientIds.Count == 0 || provider.ClientIds.Any(string.IsNullOrEmpty))
            {
                failures.Add($"{label} needs at least one non-empty client id.");
            }

            if (!provider.UsesMetadata && provider.SigningKeys.Count == 0)
            {
                failures.Add($"{label} needs an Authority, a MetadataAddress or SigningKeys.");
            }

            if (provider.UsesMetadata && provider.RequireHttpsMetadata
                && !provider.MetadataAddress!.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
            {
                failures.Add($"{label}: the metadata address must use HTTPS unless RequireHttpsMetadata is false.");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

/// <summary>Adds the AutoSignOut hub filter to every hub.</summary>
internal sealed class AutoSignOutHubOptionsSetup : IConfigureOptions<HubOptions>
{
    public void Configure(HubOptions options) => options.AddFilter<AutoSignOutHubFilter>();
}
