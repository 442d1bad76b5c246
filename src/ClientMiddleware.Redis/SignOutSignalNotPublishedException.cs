namespace AutoSignOut.AspNetCore.Redis;

/// <summary>
/// A sign-out took effect on this node (its connections closed, its credentials refused here) but Redis could not be
/// reached to tell the other nodes; the signal is queued and published once Redis is back.
/// </summary>
public sealed class SignOutSignalNotPublishedException : Exception
{
    /// <summary>Creates the exception with its standard message.</summary>
    public SignOutSignalNotPublishedException()
        : base("The sign-out was applied on this node but not yet published to the other nodes (Redis unavailable); it is queued and published once Redis is back.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">The message.</param>
    public SignOutSignalNotPublishedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public SignOutSignalNotPublishedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
