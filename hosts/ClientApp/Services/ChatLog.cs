using System.Collections.Concurrent;

namespace AutoSignOut.ClientApp.Services;

/// <summary>The last chat messages, replayed to a newly connected chat client.</summary>
public sealed class ChatLog
{
    private const int Capacity = 50;
    private readonly ConcurrentQueue<ChatMessage> _messages = new();

    /// <summary>Adds a message, dropping the oldest past the capacity.</summary>
    /// <param name="message">The message.</param>
    public void Add(ChatMessage message)
    {
        _messages.Enqueue(message);
        while (_messages.Count > Capacity && _messages.TryDequeue(out _))
        {
        }
    }

    /// <summary>The messages, oldest first.</summary>
    public IReadOnlyList<ChatMessage> Recent() => [.. _messages];
}

/// <summary>A chat message.</summary>
/// <param name="User">Who wrote it.</param>
/// <param name="Text">What they wrote.</param>
/// <param name="SentAt">When.</param>
public sealed record ChatMessage(string User, string Text, DateTimeOffset SentAt);
