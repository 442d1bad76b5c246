using System.Text.Json;
using System.Text.Json.Serialization;
using StackExchange.Redis;

namespace AutoSignOut.AspNetCore.Redis;

/// <summary>Why a stream entry was skipped; the metric tag <c>reason</c>.</summary>
internal enum SkipReason
{
    /// <summary>Not an entry this version can read: a field missing, bad JSON, a signal that names nothing.</summary>
    Malformed,

    /// <summary>Written by another app sharing the key prefix.</summary>
    Foreign,

    /// <summary>Written by a newer version of the format.</summary>
    NewerVersion,
}

/// <summary>
/// A signal on the stream: fields <c>v</c> (format version), <c>app</c> (the writing app), <c>node</c> (the writing
/// node, which applied it already), <c>eid</c> (a unique id of the entry, so that a node applies it once whether it
/// reads it from the stream or from the channel message) and <c>signal</c> (JSON). Times travel as UTC ticks, so a
/// cookie's precise issue time compares exactly on every node. The channel message announcing an entry carries the
/// same fields, one per line (<see cref="Message"/>), so that the other nodes can apply it without reading the stream
/// first; readers of version 1 without <c>eid</c> ignore the message's content and read the stream, as before.
/// </summary>
internal static class SignalEntry
{
    public const int Version = 1;
    private const string VersionField = "v";
    private const string AppField = "app";
    private const string NodeField = "node";
    private const string EntryIdField = "eid";
    private const string SignalField = "signal";
    private const char MessageSeparator = '\n';
    private static readonly RedisValue VersionValue = Version;

    public static NameValueEntry[] Create(SignOutSignal signal, string application, string node)
    {
        var body = new SignalBody
        {
            Issuer = signal.Issuer,
            Subject = signal.Subject,
            SessionId = signal.SessionId,
            TokenIds = signal.TokenIds.Count == 0 ? null : [.. signal.TokenIds],
            Reason = signal.Reason,
            CreatedAt = signal.CreatedAt.UtcTicks,
            ProviderIssuedAt = signal.ProviderIssuedAt?.UtcTicks,
            Source = signal.Source,
            LogoutTokenId = signal.LogoutTokenId,
        };
        return
        [
            new(VersionField, VersionValue),
            new(AppField, application),
            new(NodeField, node),
            new(EntryIdField, Guid.NewGuid().ToString("N")),
            new(SignalField, JsonSerializer.SerializeToUtf8Bytes(body, SignalEntryJsonContext.Default.SignalBody)),
        ];
    }

    /// <summary>The unique id of an entry written by <see cref="Create"/>, or <see langword="null"/> (older writers).</summary>
    public static string? EntryIdOf(StreamEntry entry)
    {
        var id = entry[EntryIdField];
        return id.IsNullOrEmpty ? null : (string?)id;
    }

    /// <summary>
    /// The channel message announcing <paramref name="entry"/>: its fields' values, one per line, in the order of
    /// <see cref="Create"/>. No value but the JSON may hold a line break; the JSON is last and kept whole.
    /// </summary>
    public static RedisValue Message(NameValueEntry[] entry)
    {
        var text = new System.Text.StringBuilder(256);
        for (var i = 0; i < entry.Length; i++)
        {
            if (i > 0)
            {
                text.Append(MessageSeparator);
            }

            text.Append((string?)entry[i].Value);
        }

        return text.ToString();
    }

    /// <summary>
    /// Reads a channel message written by <see cref="Message"/> as the entry it announces (without its stream id), or
    /// returns <see langword="null"/> when it is not one: an empty message (a bare wake-up), a malformed one, or one
    /// whose values are not this version's. Its signal is then read from the stream alone.
    /// </summary>
    public static StreamEntry? ReadMessage(RedisValue message)
    {
        if (message.IsNullOrEmpty)
        {
            return null;
        }

        var parts = ((string)message!).Split(MessageSeparator, 5);
        if (parts.Length != 5 || parts[3].Length == 0)
        {
            return null;
        }

        return new StreamEntry(
            RedisValue.Null,
            [new(VersionField, parts[0]), new(AppField, parts[1]), new(NodeField, parts[2]), new(EntryIdField, parts[3]), new(SignalField, System.Text.Encoding.UTF8.GetBytes(parts[4]))]);
    }

    /// <summary>Reads an entry; <paramref name="skip"/> says why it cannot be applied.</summary>
    public static SignOutSignal? Read(StreamEntry entry, string application, out string? node, out SkipReason skip)
    {
        node = null;
        skip = SkipReason.Malformed;
        var version = entry[VersionField];
        if (version.IsNull || !version.TryParse(out int v) || v < 1)
        {
            return null;
        }

        if (v > Version)
        {
            skip = SkipReason.NewerVersion;
            return null;
        }

        var app = entry[AppField];
        if (app.IsNull)
        {
            return null;
        }

        if (!string.Equals((string?)app, application, StringComparison.Ordinal))
        {
            skip = SkipReason.Foreign;
            return null;
        }

        node = entry[NodeField];
        var json = entry[SignalField];
        if (json.IsNull)
        {
            return null;
        }

        SignalBody? body;
        try
        {
            body = JsonSerializer.Deserialize(((ReadOnlyMemory<byte>)json).Span, SignalEntryJsonContext.Default.SignalBody);
        }
        catch (JsonException)
        {
            return null;
        }

        if (body is null || !IsTicks(body.CreatedAt) || (body.ProviderIssuedAt is { } p && !IsTicks(p)))
        {
            return null;
        }

        var tokenIds = body.TokenIds?.Where(static t => !string.IsNullOrEmpty(t)).ToArray() ?? [];
        if (string.IsNullOrEmpty(body.SessionId) && string.IsNullOrEmpty(body.Subject) && tokenIds.Length == 0)
        {
            return null;
        }

        return new SignOutSignal
        {
            Issuer = body.Issuer,
            Subject = body.Subject,
            SessionId = body.SessionId,
            TokenIds = tokenIds,
            Reason = body.Reason,
            CreatedAt = new DateTimeOffset(body.CreatedAt, TimeSpan.Zero),
            ProviderIssuedAt = body.ProviderIssuedAt is { } issued ? new DateTimeOffset(issued, TimeSpan.Zero) : null,
            Source = body.Source ?? SignOutSignalSources.Application,
            LogoutTokenId = body.LogoutTokenId,
        };
    }

    /// <summary>The Redis server's time of an entry id (<c>ms-seq</c>), or <see langword="null"/>.</summary>
    public static DateTimeOffset? TimeOf(RedisValue id)
    {
        var text = (string?)id;
        var dash = text?.IndexOf('-', StringComparison.Ordinal) ?? -1;
        return dash > 0 && long.TryParse(text.AsSpan(0, dash), out var ms) && ms >= 0 && ms < 253402300799999
            ? DateTimeOffset.FromUnixTimeMilliseconds(ms)
            : null;
    }

    private static bool IsTicks(long ticks) => ticks > 0 && ticks <= DateTimeOffset.MaxValue.UtcTicks;
}

/// <summary>The JSON of a signal on the stream.</summary>
internal sealed class SignalBody
{
    [JsonPropertyName("iss")]
    public string? Issuer { get; set; }

    [JsonPropertyName("sub")]
    public string? Subject { get; set; }

    [JsonPropertyName("sid")]
    public string? SessionId { get; set; }

    [JsonPropertyName("jtis")]
    public string[]? TokenIds { get; set; }

    [JsonPropertyName("reason")]
    public string? Reason { get; set; }

    [JsonPropertyName("at")]
    public long CreatedAt { get; set; }

    [JsonPropertyName("piat")]
    public long? ProviderIssuedAt { get; set; }

    [JsonPropertyName("src")]
    public string? Source { get; set; }

    [JsonPropertyName("ljti")]
    public string? LogoutTokenId { get; set; }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(SignalBody))]
internal sealed partial class SignalEntryJsonContext : JsonSerializerContext;
