namespace AutoSignOut.AspNetCore;

/// <summary>A Blazor Server circuit registered by <see cref="AutoSignOutCircuitHandler"/>; kind <c>circuit</c>.</summary>
internal sealed class CircuitLiveConnection(
    AutoSignOutCircuitHandler handler, string circuitId, string? issuer, IReadOnlyList<ConnectionKey> keys, IssueTime issuedAt)
    : LiveConnection(issuer, keys, issuedAt)
{
    public override string Kind => AutoSignOutCircuitDefaults.ConnectionKind;

    public override string Id => circuitId;

    /// <summary>Whether the sign-out has sent the navigation and closed the connection. Until then refused activity is only dropped.</summary>
    public bool SignOutCompleted
    {
        get => Volatile.Read(ref _signOutCompleted);
        set => Volatile.Write(ref _signOutCompleted, value);
    }

    private bool _signOutCompleted;

    /// <summary>Signs the circuit out: anonymous at once, then the navigation, then the connection is closed.</summary>
    protected internal override ValueTask CloseAsync(SignOutSignal signal, CancellationToken cancellationToken) =>
        handler.SignOutAsync(this, signal.Reason, cancellationToken, signal.Source);
}
