namespace AutoSignOut.AspNetCore;

/// <summary>
/// Carries sign-out signals to every node of the app. The default bus is in-process (one node); a multi-node bus
/// (such as Redis) publishes to the others and hands each received signal to <see cref="SignOutSignalProcessor"/> there.
/// </summary>
public interface ISignOutSignalBus
{
    /// <summary>Publishes a signal to every node, this one included.</summary>
    /// <param name="signal">The signal.</param>
    /// <param name="cancellationToken">Cancels publishing.</param>
    ValueTask PublishAsync(SignOutSignal signal, CancellationToken cancellationToken = default);
}

/// <summary>The single-node bus: a published signal is processed at once, in this process.</summary>
internal sealed class InProcessSignOutSignalBus(SignOutSignalProcessor processor) : ISignOutSignalBus
{
    public ValueTask PublishAsync(SignOutSignal signal, CancellationToken cancellationToken = default) =>
        processor.ProcessAsync(signal, cancellationToken);
}
