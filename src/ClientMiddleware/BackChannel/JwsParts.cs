using System.Buffers;
using System.Buffers.Text;
using System.Text;
using System.Text.Json;

namespace AutoSignOut.AspNetCore;

/// <summary>
/// A compact-serialized JWS split into its parts (RFC 7515 §7.1): the protected header's <c>alg</c>, <c>typ</c> and
/// <c>kid</c>, the payload as JSON, the signing input and the signature. Parsing checks only the form; nothing is trusted.
/// </summary>
internal readonly struct JwsParts
{
    private const int MaxTokenLength = 64 * 1024;

    private JwsParts(string? algorithm, string? type, string? keyId, JsonDocument payload, byte[] signingInput, byte[] signature)
    {
        Algorithm = algorithm;
        Type = type;
        KeyId = keyId;
        Payload = payload;
        SigningInput = signingInput;
        Signature = signature;
    }

    public string? Algorithm { get; }

    public string? Type { get; }

    public string? KeyId { get; }

    public JsonDocument Payload { get; }

    public byte[] SigningInput { get; }

    public byte[] Signature { get; }

    /// <summary>Splits <paramref name="token"/>; <paramref name="duplicateMember"/> tells a JSON object with a member twice from other garbage.</summary>
    public static bool TryParse(string token, out JwsParts parts, out bool duplicateMember)
    {
        parts = default;
        duplicateMember = false;
        if (token.Length > MaxTokenLength)
        {
            return false;
        }

        var first = token.IndexOf('.');
        var second = first < 0 ? -1 : token.IndexOf('.', first + 1);
        if (first <= 0 || second < 0 || second == first + 1 || token.IndexOf('.', second + 1) >= 0)
        {
            // Not three non-empty-header/payload parts: an unsigned or encrypted (five-part) token, or garbage.
            return false;
        }

        try
        {
            var header = Base64Url.DecodeFromChars(token.AsSpan(0, first));
            var payloadBytes = Base64Url.DecodeFromChars(token.AsSpan(first + 1, second - first - 1));
            var signature = Base64Url.DecodeFromChars(token.AsSpan(second + 1));
            if (!TryReadHeader(header, out var alg, out var typ, out var kid))
            {
                return false;
            }

            var payload = JsonDocument.Parse(payloadBytes, Strict(16));
            if (payload.RootElement.ValueKind != JsonValueKind.Object)
            {
                payload.Dispose();
                return false;
            }

            parts = new JwsParts(alg, typ, kid, payload, Encoding.ASCII.GetBytes(token, 0, second), signature);
            return true;
        }
        catch (Exception e) when (e is FormatException or JsonException)
        {
            // Refused either way; parsed again only on this failure path, to name the reason.
            duplicateMember = e is JsonException && HasDuplicateMember(token, first, second);
            return false;
        }
    }

    /// <summary>RFC 7515 §5.2 and RFC 8725 §3.1: a JSON object with a member twice is refused, not read "last wins".</summary>
    private static JsonDocumentOptions Strict(int maxDepth) => new() { MaxDepth = maxDepth, AllowDuplicateProperties = false };

    private static bool HasDuplicateMember(string token, int first, int second)
    {
        try
        {
            using var header = JsonDocument.Parse(Base64Url.DecodeFromChars(token.AsSpan(0, first)), new JsonDocumentOptions { MaxDepth = 8 });
            using var payload = JsonDocument.Parse(Base64Url.DecodeFromChars(token.AsSpan(first + 1, second - first - 1)), new JsonDocumentOptions { MaxDepth = 16 });
            return true;
        }
        catch (Exception e) when (e is FormatException or JsonException)
        {
            return false;
        }
    }

    /// <summary>
    /// Reads <c>alg</c>, <c>typ</c> and <c>kid</c> straight from the header's JSON (no document: this runs for every
    /// request). A name twice throws a <see cref="JsonException"/>, as the strict document parse would.
    /// </summary>
    private static bool TryReadHeader(byte[] header, out string? alg, out string? typ, out string? kid)
    {
        alg = typ = kid = null;
        var reader = new Utf8JsonReader(header, new JsonReaderOptions { MaxDepth = 8 });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return false;
        }

        Span<(int Start, int Length)> names = stackalloc (int, int)[16];
        var count = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueIsEscaped || count == names.Length)
            {
                // Escaped or very many names: not a header any provider sends; read it the slow, general way.
                return TryReadHeaderDocument(header, out alg, out typ, out kid);
            }

            var name = reader.ValueSpan;
            for (var i = 0; i < count; i++)
            {
                if (header.AsSpan(names[i].Start, names[i].Length).SequenceEqual(name))
                {
                    throw new JsonException("A header parameter appears twice.");
                }
            }

            names[count++] = ((int)reader.TokenStartIndex + 1, name.Length);
            var isAlg = name.SequenceEqual("alg"u8);
            var isTyp = !isAlg && name.SequenceEqual("typ"u8);
            var isKid = !isAlg && !isTyp && name.SequenceEqual("kid"u8);
            if (name.SequenceEqual("crit"u8) || name.SequenceEqual("enc"u8) || name.SequenceEqual("zip"u8))
            {
                // RFC 7515 §4.1.11: extensions a recipient does not understand make the JWS invalid; we understand none.
                // An encrypted or compressed token is not a JWS we accept either.
                return false;
            }

            if (!reader.Read())
            {
                return false;
            }

            if (isAlg || isTyp || isKid)
            {
                if (reader.TokenType != JsonTokenType.String)
                {
                    return false;
                }

                var value = reader.GetString();
                if (isAlg)
                {
                    alg = value;
                }
                else if (isTyp)
                {
                    typ = value;
                }
                else
                {
                    kid = value;
                }
            }
            else
            {
                reader.Skip();
            }
        }

        return reader.TokenType == JsonTokenType.EndObject && !reader.Read() && alg is not null;
    }

    private static bool TryReadHeaderDocument(byte[] header, out string? alg, out string? typ, out string? kid)
    {
        alg = typ = kid = null;
        using var json = JsonDocument.Parse(header, Strict(8));
        var root = json.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            return false;
        }

        foreach (var property in root.EnumerateObject())
        {
            switch (property.Name)
            {
                case "alg" when property.Value.ValueKind == JsonValueKind.String:
                    alg = property.Value.GetString();
                    break;
                case "typ" when property.Value.ValueKind == JsonValueKind.String:
                    typ = property.Value.GetString();
                    break;
                case "kid" when property.Value.ValueKind == JsonValueKind.String:
                    kid = property.Value.GetString();
                    break;
                case "alg" or "typ" or "kid" or "crit" or "enc" or "zip":
                    return false;
            }
        }

        return alg is not null;
    }
}
