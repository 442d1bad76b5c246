using Microsoft.Extensions.Logging;

namespace AutoSignOut.AspNetCore;

/// <summary>Log messages of the circuit integration (event ids 4xxx).</summary>
internal static partial class Log
{
    [LoggerMessage(4001, LogLevel.Debug, "Circuit {CircuitId} registered for live sign-out.", EventName = "CircuitRegistered")]
    public static partial void CircuitRegistered(ILogger logger, string circuitId);

    [LoggerMessage(4002, LogLevel.Information, "Circuit {CircuitId} signed out: authentication state anonymous, navigation sent, connection closed.", EventName = "CircuitSignedOut")]
    public static partial void CircuitSignedOut(ILogger logger, string circuitId);

    [LoggerMessage(4003, LogLevel.Warning, "Circuit {CircuitId}: the signed-out navigation could not be sent; the connection is closed anyway.", EventName = "CircuitNavigationFailed")]
    public static partial void CircuitNavigationFailed(ILogger logger, Exception exception, string circuitId);

    [LoggerMessage(4004, LogLevel.Debug, "Refused {Where} of signed-out circuit {CircuitId}.", EventName = "CircuitActivityRefused")]
    public static partial void CircuitActivityRefused(ILogger logger, string where, string circuitId);

    [LoggerMessage(4005, LogLevel.Debug, "No Blazor hub connection flowed into circuit {CircuitId}; it was registered from its authentication state.", EventName = "CircuitWithoutHubConnection")]
    public static partial void CircuitWithoutHubConnection(ILogger logger, string circuitId);
}
