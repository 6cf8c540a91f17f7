using System.Text.Json.Nodes;

namespace MoeLab.Experiments.Runtime;

/// <summary>One override: a dotted key and its value (text from --set, or a node from a file).</summary>
public sealed record ConfigOverride(string Key, string Value, JsonNode? Node, string Source, bool IsNull = false)
{
    /// <summary>Parses <c>key=value</c> as typed after --set.</summary>
    public static ConfigOverride Parse(string text)
    {
        int eq = text.IndexOf('=');
        if (eq <= 0)
            throw new ConfigException($"--set '{text}': expected key=value, e.g. --set model.experts=16.");
        string key = text[..eq].Trim();
        string value = text[(eq + 1)..];
        return new ConfigOverride(key, value, null, $"--set {text}", value.Trim() == "null");
    }
}
