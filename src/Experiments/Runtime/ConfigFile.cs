using System.Text.Json;
using System.Text.Json.Nodes;
using YamlDotNet.RepresentationModel;

namespace MoeLab.Experiments.Runtime;

/// <summary>Override files (--config): JSON or YAML, nested or dotted keys, one override per leaf.</summary>
public static class ConfigFile
{
    /// <summary>Reads a JSON or YAML override file into one override per leaf (dotted keys allowed).</summary>
    public static IReadOnlyList<ConfigOverride> ReadFile(string path)
    {
        if (!File.Exists(path)) throw new ConfigException($"Config file '{path}' does not exist.");
        string ext = Path.GetExtension(path).ToLowerInvariant();
        string text = File.ReadAllText(path);
        JsonNode? root;
        try
        {
            root = ext switch
            {
                ".json" => JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }),
                ".yaml" or ".yml" => YamlToJson(text),
                _ => throw new ConfigException($"Config file '{path}': unknown extension '{ext}'; allowed: .json, .yaml, .yml."),
            };
        }
        catch (JsonException e)
        {
            throw new ConfigException($"Config file '{path}' is not valid JSON (line {e.LineNumber + 1}): {e.Message}");
        }
        catch (YamlDotNet.Core.YamlException e)
        {
            throw new ConfigException($"Config file '{path}' is not valid YAML (line {e.Start.Line}): {e.Message}");
        }
        if (root is null) return Array.Empty<ConfigOverride>();
        if (root is not JsonObject obj) throw new ConfigException($"Config file '{path}': the top level must be a mapping of keys to values.");
        var list = new List<ConfigOverride>();
        void Flatten(JsonObject o, string prefix)
        {
            foreach (var (k, v) in o)
            {
                string key = prefix + k;
                if (v is JsonObject child && child.Count > 0) Flatten(child, key + ".");
                else list.Add(new ConfigOverride(key, v is JsonValue jv && jv.TryGetValue<string>(out var s) ? s : v?.ToJsonString() ?? "null",
                    v?.DeepClone(), $"{Path.GetFileName(path)}: {key}", v is null));
            }
        }
        Flatten(obj, "");
        return list;
    }

    internal static JsonNode? YamlToJson(string text)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        if (stream.Documents.Count == 0) return null;
        static JsonNode? Convert(YamlNode n) => n switch
        {
            YamlMappingNode m => new JsonObject(m.Children.Select(kv =>
                KeyValuePair.Create(((YamlScalarNode)kv.Key).Value ?? "", Convert(kv.Value)))),
            YamlSequenceNode s => new JsonArray(s.Children.Select(Convert).ToArray()),
            YamlScalarNode sc => sc.Style == YamlDotNet.Core.ScalarStyle.Plain && (sc.Value is null or "~" or "null" or "")
                ? null : JsonValue.Create(sc.Value ?? ""),
            _ => null,
        };
        return Convert(stream.Documents[0].RootNode);
    }
}
