using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Unicode;

namespace KataSharp.Protocol;

/// <summary>
/// JSON from a peer (an OCI spec, a process): JsonNode.Parse checks the structure only, so invalid UTF-8 inside
/// a string and a repeated key would fail later, when the value is read, as exceptions no caller expects. Here
/// both fail at parse time as the <see cref="JsonException"/> every caller already maps to a bad-input error.
/// </summary>
public static class StrictJson
{
    private static readonly JsonDocumentOptions Options = new() { AllowDuplicateProperties = false };

    /// <exception cref="JsonException">Not valid JSON, not valid UTF-8, or an object with a repeated key.</exception>
    public static JsonNode? Parse(ReadOnlySpan<byte> json) =>
        Utf8.IsValid(json) ? JsonNode.Parse(json, documentOptions: Options) : throw new JsonException("the JSON is not valid UTF-8");

    /// <summary>The string at <paramref name="node"/>, or null for anything else: reading a peer's JSON must not throw on a wrong type.</summary>
    public static string? Text(JsonNode? node) => node is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;
}
