namespace AutoSignOut.IdentityServer;

/// <summary>
/// The reasons the engine and its bindings put in the <c>reason</c> claim of a logout token.
/// </summary>
public static class RevocationReasons
{
    /// <summary>The user signed out.</summary>
    public const string Logout = "logout";

    /// <summary>The IdP removed or expired the session.</summary>
    public const string SessionEnded = "session_ended";

    /// <summary>A refresh token, access token or grant was revoked.</summary>
    public const string TokenRevoked = "token_revoked";

    /// <summary>Every session of the subject ends, for example after a password change.</summary>
    public const string SignOutEverywhere = "sign_out_everywhere";

    /// <summary>The user changed their password; every session of the subject ends.</summary>
    public const string PasswordChanged = "password_changed";

    /// <summary>An administrator revoked the subject's sessions or grants.</summary>
    public const string AdminRevoked = "admin_revoked";
}
