namespace AutoSignOut.AspNetCore;

/// <summary>Options of AutoSignOut for Blazor Server circuits (interactive server rendering).</summary>
public sealed class AutoSignOutCircuitOptions
{
    /// <summary>
    /// The app-relative path a signed-out circuit's browser is sent to, with a full page load (so the cookie check
    /// runs and the revoked cookie is cleared). Default: <see cref="AutoSignOutCircuitDefaults.SignedOutPath"/>.
    /// Point it at a page that allows anonymous users and says why, or at the sign-in page.
    /// </summary>
    public string SignedOutPath { get; set; } = AutoSignOutCircuitDefaults.SignedOutPath;

    /// <summary>
    /// The query parameter that carries the signal's reason (such as <c>password_changed</c>) to
    /// <see cref="SignedOutPath"/>, or <see langword="null"/> to leave it out. Default: <c>reason</c>.
    /// </summary>
    public string? ReasonQueryParameter { get; set; } = AutoSignOutCircuitDefaults.ReasonQueryParameter;

    /// <summary>
    /// The query parameter that carries where the signal came from (<see cref="SignOutSignalSources"/>: the identity
    /// provider's back channel or the app), so the page can say where the session ended even when the provider gave no
    /// reason; <see langword="null"/> to leave it out. Default: <c>source</c>.
    /// </summary>
    public string? SourceQueryParameter { get; set; } = AutoSignOutCircuitDefaults.SourceQueryParameter;

    /// <summary>
    /// How long a signed-out circuit's connection is left to the browser, which is navigating to
    /// <see cref="SignedOutPath"/>, before the server closes it. Closing at once races the navigation: Blazor's client
    /// reconnects, is refused, and reloads the page, which can cancel the navigation and land on the sign-in page
    /// instead. The circuit is anonymous and refuses all activity meanwhile; nobody waits for it. Default: 2 seconds;
    /// at most 30 seconds.
    /// </summary>
    public TimeSpan NavigationGracePeriod { get; set; } = AutoSignOutCircuitDefaults.NavigationGracePeriod;
}

/// <summary>Default values of <see cref="AutoSignOutCircuitOptions"/>.</summary>
public static class AutoSignOutCircuitDefaults
{
    /// <summary>The default signed-out path: <c>/</c>, the app's home page.</summary>
    public const string SignedOutPath = "/";

    /// <summary>The default reason query parameter: <c>reason</c>.</summary>
    public const string ReasonQueryParameter = "reason";

    /// <summary>The default <see cref="AutoSignOutCircuitOptions.NavigationGracePeriod"/>: 2 seconds.</summary>
    public static readonly TimeSpan NavigationGracePeriod = TimeSpan.FromSeconds(2);

    /// <summary>The default source query parameter: <c>source</c>.</summary>
    public const string SourceQueryParameter = "source";

    /// <summary>The telemetry kind of a circuit's live connection: <c>circuit</c>.</summary>
    public const string ConnectionKind = "circuit";
}
