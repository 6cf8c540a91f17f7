using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MoeLab.Experiments.Runtime;


/// <summary>Builds configs from a preset plus overrides, strictly: configs are immutable records,
/// so the preset is serialised to JSON, overrides are applied to the JSON (each key resolved
/// against the record's properties, each value converted to the property's type), and the record
/// is rebuilt from the JSON. Then [Range]/DataAnnotations attributes (on properties or on
/// primary-constructor parameters) and <see cref="IExperiment.Validate"/> are checked.
/// Keys are camelCase paths (<c>model.experts</c>), matched case-insensitively, '-' and '_'
/// ignored. Values: bool, integers, numbers, strings, enums by name, lists (<c>[3,5,5,5]</c> or
/// <c>3,5,5,5</c>), <c>null</c> for nullable keys, JSON objects for whole nested records.</summary>
public static class ConfigBinder
{
    /// <summary>Preset + optional config file (.json/.yaml/.yml) + --set overrides → validated config.</summary>
    public static ResolvedConfig Resolve(IExperiment experiment, string preset, string? configFile = null,
        IReadOnlyList<string>? sets = null)
    {
        if (!experiment.Presets.TryGetValue(preset, out var baseConfig))
        {
            var match = experiment.Presets.Keys.FirstOrDefault(k => string.Equals(k, preset, StringComparison.OrdinalIgnoreCase));
            if (match is null)
                throw new ConfigException($"Unknown preset '{preset}' for experiment '{experiment.Name}'. Allowed: {string.Join(", ", experiment.Presets.Keys)}.");
            preset = match;
            baseConfig = experiment.Presets[match];
        }
        var overrides = new List<ConfigOverride>();
        var applied = new List<string>();
        if (configFile is not null)
        {
            overrides.AddRange(ConfigFile.ReadFile(configFile));
            applied.Add("--config " + configFile);
        }
        foreach (string s in sets ?? Array.Empty<string>())
        {
            overrides.Add(ConfigOverride.Parse(s));
            applied.Add(s);
        }
        object config = Apply(experiment.ConfigType, baseConfig, overrides);
        var problems = ConfigAttributeValidation.ValidateAttributes(config).Concat(experiment.Validate(config))
            .Select(p => WithSource(p, overrides)).ToList();
        if (problems.Count > 0) throw new ConfigException(problems);
        string json = ToJson(config);
        return new ResolvedConfig(config, preset, applied, json, HashOf(json));
    }

    /// <summary>Prefixes a validation message with the override that set the key it names (the
    /// first quoted key in the message), so the user sees which --set or file line to fix.</summary>
    private static string WithSource(string problem, IReadOnlyList<ConfigOverride> overrides)
    {
        int q = problem.IndexOf('\'');
        int end = q >= 0 ? problem.IndexOf('\'', q + 1) : -1;
        if (end < 0) return problem;
        string key = ConfigKeys.Normalize(problem[(q + 1)..end]);
        var source = overrides.LastOrDefault(o => ConfigKeys.Normalize(o.Key) == key);
        return source is null ? problem : $"{source.Source}: {problem}";
    }

    /// <summary>Rebuilds a config from its manifest JSON (for --resume), validating it again.</summary>
    public static object FromJson(IExperiment experiment, string json)
    {
        object config;
        try
        {
            config = JsonSerializer.Deserialize(json, experiment.ConfigType, ConfigJson.Strict)
                     ?? throw new ConfigException("The stored config is null.");
        }
        catch (JsonException e)
        {
            throw new ConfigException($"The stored config does not match {experiment.ConfigType.Name} (key '{e.Path}'): {e.Message}");
        }
        var problems = ConfigAttributeValidation.ValidateAttributes(config).Concat(experiment.Validate(config)).ToList();
        if (problems.Count > 0) throw new ConfigException(problems);
        return config;
    }

    public static string ToJson(object config) => JsonSerializer.Serialize(config, config.GetType(), ConfigJson.Options);

    public static string HashOf(string text) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text.ReplaceLineEndings("\n"))))[..12].ToLowerInvariant();

    /// <summary>Applies overrides to <paramref name="baseConfig"/>; throws <see cref="ConfigException"/>
    /// with every problem found (unknown keys, wrong types).</summary>
    public static object Apply(Type configType, object baseConfig, IReadOnlyList<ConfigOverride> overrides)
    {
        var root = JsonSerializer.SerializeToNode(baseConfig, configType, ConfigJson.Options) as JsonObject
                   ?? throw new ConfigException($"Config type {configType.Name} does not serialise to a JSON object.");
        var problems = new List<string>();
        foreach (var o in overrides)
        {
            var path = ConfigKeys.ResolvePath(configType, o, problems);
            if (path is null) continue;
            JsonNode? value = ConfigValues.ConvertValue(o, path[^1], problems);
            if (problems.Count > 0 && value is null && !o.IsNull) continue;
            JsonObject node = root;
            bool ok = true;
            for (int i = 0; i < path.Count - 1; i++)
            {
                string k = ConfigKeys.JsonKey(path[i]);
                if (node[k] is JsonObject child) node = child;
                else
                {
                    problems.Add($"{o.Source}: '{string.Join('.', path.Take(i + 1).Select(p => ConfigKeys.JsonKey(p)))}' is null in this config; " +
                                 $"set it as a whole, e.g. --set {string.Join('.', path.Take(i + 1).Select(p => ConfigKeys.JsonKey(p)))}={{...}} (JSON).");
                    ok = false;
                    break;
                }
            }
            if (ok) node[ConfigKeys.JsonKey(path[^1])] = value;
        }
        if (problems.Count > 0) throw new ConfigException(problems);
        try
        {
            return root.Deserialize(configType, ConfigJson.Strict)
                   ?? throw new ConfigException($"Config {configType.Name} resolved to null.");
        }
        catch (JsonException e)
        {
            throw new ConfigException($"Config key '{e.Path?.TrimStart('$', '.')}': {e.Message}");
        }
    }
}
