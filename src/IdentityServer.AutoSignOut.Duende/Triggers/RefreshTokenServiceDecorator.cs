using Duende.IdentityServer.Models;
using Duende.IdentityServer.Services;
using Duende.IdentityServer.Validation;

namespace AutoSignOut.IdentityServer.Duende;

/// <summary>
/// Marks the refresh-token service's own removals as not revocations: a one-time refresh token deleted on use
/// (rotation) or an expired one deleted on validation ends nothing the client still holds.
/// </summary>
internal sealed class RefreshTokenServiceDecorator : IRefreshTokenService
{
    private readonly IRefreshTokenService _inner;

    public RefreshTokenServiceDecorator(IRefreshTokenService inner) => _inner = inner;

    public Task<TokenValidationResult> ValidateRefreshTokenAsync(string token, Client client) =>
        RevocationNotifier.IgnoringAsync(() => _inner.ValidateRefreshTokenAsync(token, client));

    public Task<string> CreateRefreshTokenAsync(RefreshTokenCreationRequest request) =>
        RevocationNotifier.IgnoringAsync(() => _inner.CreateRefreshTokenAsync(request));

    public Task<string> UpdateRefreshTokenAsync(RefreshTokenUpdateRequest request) =>
        RevocationNotifier.IgnoringAsync(() => _inner.UpdateRefreshTokenAsync(request));
}
