using Duende.IdentityServer.ResponseHandling;
using Duende.IdentityServer.Validation;

namespace AutoSignOut.IdentityServer.Duende;

/// <summary>
/// Runs a request to the revocation endpoint as one revocation: Duende removes the refresh token and then the reference
/// tokens of its session, and the client hears about both in one logout token.
/// </summary>
internal sealed class TokenRevocationDecorator : ITokenRevocationResponseGenerator
{
    private readonly ITokenRevocationResponseGenerator _inner;
    private readonly RevocationNotifier _notifier;

    public TokenRevocationDecorator(ITokenRevocationResponseGenerator inner, RevocationNotifier notifier)
    {
        _inner = inner;
        _notifier = notifier;
    }

    public Task<TokenRevocationResponse> ProcessAsync(TokenRevocationRequestValidationResult validationResult) =>
        _notifier.RunAsync(_ => _inner.ProcessAsync(validationResult));
}
