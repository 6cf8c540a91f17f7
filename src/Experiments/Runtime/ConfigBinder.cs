using System.Collections;
using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using YamlDotNet.RepresentationModel;

namespace MoeLab.Experiments.Runtime;

/// <summary>A config after preset, file and --set overrides, validated.</summary>
/// <param name="Config">Instance of the experiment's config type.</param>
/// <param name="Preset">Preset it started from.</param>
/// <param name="Overrides">Overrides in the order applied: "--config file" then "key=value" (as typed).</param>
/// <param name="Json">The resolved config as JSON (camelCase keys).</param>
/// <param name="Hash">First 12 hex digits of SHA-256 over <paramref name="Json"/>.</param>
public sealed record ResolvedConfig(object Config, string Preset, IReadOnlyList<string> Overrides, string Json, string Hash);

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
            overrides.AddRange(ReadFile(configFile));
            applied.Add("--config " + configFile);
        }
        foreach (string s in sets ?? Array.Empty<string>())
        {
            overrides.Add(ConfigOverride.Parse(s));
            applied.Add(s);
        }
        object config = Apply(experiment.ConfigType, baseConfig, overrides);
        var problems = ValidateAttributes(config).Concat(experiment.Validate(config))
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
        string key = Normalize(problem[(q + 1)..end]);
        var source = overrides.LastOrDefault(o => Normalize(o.Key) == key);
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
        var problems = ValidateAttributes(config).Concat(experiment.Validate(config)).ToList();
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
            var path = ResolvePath(configType, o, problems);
            if (path is null) continue;
            JsonNode? value = ConvertValue(o, path[^1], problems);
            if (problems.Count > 0 && value is null && !o.IsNull) continue;
            JsonObject node = root;
            bool ok = true;
            for (int i = 0; i < path.Count - 1; i++)
            {
                string k = JsonKey(path[i]);
                if (node[k] is JsonObject child) node = child;
                else
                {
                    problems.Add($"{o.Source}: '{string.Join('.', path.Take(i + 1).Select(p => JsonKey(p)))}' is null in this config; " +
                                 $"set it as a whole, e.g. --set {string.Join('.', path.Take(i + 1).Select(p => JsonKey(p)))}={{...}} (JSON).");
                    ok = false;
                    break;
                }
            }
            if (ok) node[JsonKey(path[^1])] = value;
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

    /// <summary>The JSON key of a property (its [JsonPropertyName] or camelCase name).</summary>
    public static string JsonKey(PropertyInfo p) =>
        p.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name ?? ConfigJson.KeyOf(p.Name);

    /// <summary>Every settable key of a config type as a dotted path (for help and suggestions).</summary>
    public static IReadOnlyList<string> Keys(Type configType)
    {
        var keys = new List<string>();
        void Walk(Type t, string prefix, int depth)
        {
            foreach (var p in ConfigProperties(t))
            {
                string key = prefix + JsonKey(p);
                if (IsComplex(p.PropertyType) && depth < 8) Walk(p.PropertyType, key + ".", depth + 1);
                else keys.Add(key);
            }
        }
        Walk(configType, "", 0);
        return keys;
    }

    // ---------- key resolution ----------

    private static List<PropertyInfo>? ResolvePath(Type root, ConfigOverride o, List<string> problems)
    {
        var segments = o.Key.Split('.');
        var chain = new List<PropertyInfo>();
        Type current = root;
        for (int i = 0; i < segments.Length; i++)
        {
            string seg = segments[i];
            string prefix = string.Join('.', chain.Select(JsonKey));
            if (!IsComplex(current))
            {
                problems.Add($"{o.Source}: unknown key '{o.Key}' (value '{o.Value}'): '{prefix}' is {DescribeType(current)} and has no sub-keys.");
                return null;
            }
            var props = ConfigProperties(current).ToList();
            var prop = props.FirstOrDefault(p => Normalize(p.Name) == Normalize(seg));
            if (prop is null)
            {
                string where = prefix.Length == 0 ? "at the top level" : $"under '{prefix}'";
                var suggestions = Suggest(root, prefix, seg, props);
                string hint = suggestions.Count > 0 ? $" Did you mean {string.Join(" or ", suggestions.Select(s => $"'{s}'"))}?" : "";
                problems.Add($"{o.Source}: unknown key '{o.Key}' (value '{o.Value}').{hint} Keys {where}: {string.Join(", ", props.Select(JsonKey))}.");
                return null;
            }
            chain.Add(prop);
            current = prop.PropertyType;
        }
        return chain;
    }

    private static List<string> Suggest(Type root, string prefix, string seg, List<PropertyInfo> siblings)
    {
        string n = Normalize(seg);
        var near = siblings.Select(p => (key: JsonKey(p), d: Levenshtein(Normalize(p.Name), n)))
            .Where(x => x.d <= Math.Max(2, n.Length / 3)).OrderBy(x => x.d)
            .Select(x => prefix.Length == 0 ? x.key : prefix + "." + x.key).ToList();
        // The same leaf name elsewhere in the tree (e.g. 'lr' typed at the top level → 'train.lr').
        var elsewhere = Keys(root).Where(k => Normalize(k.Split('.')[^1]) == n || Levenshtein(Normalize(k.Split('.')[^1]), n) <= 1);
        return near.Concat(elsewhere).Distinct().Take(3).ToList();
    }

    private static string Normalize(string s) => s.Replace("-", "").Replace("_", "").ToLowerInvariant();

    internal static int Levenshtein(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
        for (int j = 1; j <= b.Length; j++)
            d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
        return d[a.Length, b.Length];
    }

    private static IEnumerable<PropertyInfo> ConfigProperties(Type t) =>
        t.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanRead && p.GetIndexParameters().Length == 0 && p.Name != "EqualityContract"
                        && p.GetCustomAttribute<JsonIgnoreAttribute>() is null);

    /// <summary>A nested config record/class (has sub-keys), as opposed to a leaf value.</summary>
    private static bool IsComplex(Type t) =>
        (t.IsClass || (t.IsValueType && !t.IsPrimitive && !t.IsEnum && Nullable.GetUnderlyingType(t) is null && t.Namespace?.StartsWith("System") != true))
        && t != typeof(string) && !typeof(IEnumerable).IsAssignableFrom(t) && t.Namespace?.StartsWith("System") != true;

    private static Type? ElementType(Type t)
    {
        if (t == typeof(string)) return null;
        if (t.IsArray) return t.GetElementType();
        if (t.IsGenericType && typeof(IEnumerable).IsAssignableFrom(t) && t.GetGenericArguments().Length == 1)
            return t.GetGenericArguments()[0];
        return null;
    }

    // ---------- value conversion ----------

    private static readonly NullabilityInfoContext Nullability = new();

    private static JsonNode? ConvertValue(ConfigOverride o, PropertyInfo prop, List<string> problems)
    {
        bool nullable = Nullable.GetUnderlyingType(prop.PropertyType) is not null ||
                        (!prop.PropertyType.IsValueType && Nullability.Create(prop).ReadState == NullabilityState.Nullable);
        if (o.IsNull)
        {
            if (nullable) return null;
            problems.Add($"{o.Source}: '{o.Key}' cannot be null: expected {DescribeType(prop.PropertyType)}.");
            return null;
        }
        return ConvertNode(o, o.Node ?? JsonValue.Create(o.Value), prop.PropertyType, nullable, problems);
    }

    private static JsonNode? ConvertNode(ConfigOverride o, JsonNode? node, Type type, bool nullable, List<string> problems)
    {
        Type t = Nullable.GetUnderlyingType(type) ?? type;
        string shown = node is JsonValue jv0 && jv0.TryGetValue<string>(out var s0) ? s0 : node?.ToJsonString() ?? "null";
        string Fail(string expected)
        {
            problems.Add($"{o.Source}: '{o.Key}' = '{shown}' is not {expected}.");
            return "";
        }
        if (node is null || (node is JsonValue nv && nv.TryGetValue<string>(out var ns) && ns.Trim() == "null" && (nullable || Nullable.GetUnderlyingType(type) is not null)))
            return nullable || Nullable.GetUnderlyingType(type) is not null ? null : Null(Fail(DescribeType(t)));

        var elem = ElementType(t);
        if (elem is not null)
        {
            JsonArray? items = node as JsonArray;
            if (items is null)
            {
                string text = shown.Trim();
                if (text.StartsWith('[') && text.EndsWith(']')) text = text[1..^1];
                items = new JsonArray(text.Length == 0 ? Array.Empty<JsonNode?>()
                    : text.Split(',').Select(x => (JsonNode?)JsonValue.Create(x.Trim())).ToArray());
            }
            var result = new JsonArray();
            int before = problems.Count;
            foreach (var item in items)
                result.Add(ConvertNode(o, item?.DeepClone(), elem, false, problems));
            if (problems.Count > before)
                problems.Add($"{o.Source}: '{o.Key}' expects {DescribeType(t)}.");
            return result;
        }
        if (IsComplex(t))
        {
            JsonNode? obj = node as JsonObject;
            if (obj is null)
            {
                try { obj = JsonNode.Parse(shown) as JsonObject; } catch (JsonException) { obj = null; }
                if (obj is null) return Null(Fail($"a JSON object for {t.Name} (keys: {string.Join(", ", ConfigProperties(t).Select(JsonKey))})"));
            }
            try
            {
                var value = obj.Deserialize(t, ConfigJson.Strict);
                return JsonSerializer.SerializeToNode(value, t, ConfigJson.Options);
            }
            catch (JsonException e)
            {
                return Null(Fail($"a valid {t.Name} ({e.Message})"));
            }
        }

        // Leaf scalars: take the text form; JSON numbers/bools keep their literal text.
        string raw = node is JsonValue v && v.TryGetValue<string>(out var str) ? str : node.ToJsonString();
        string trimmed = raw.Trim();
        var inv = CultureInfo.InvariantCulture;
        if (t == typeof(string))
            return JsonValue.Create(raw.Length >= 2 && raw[0] == '"' && raw[^1] == '"' ? raw[1..^1] : raw);
        if (t == typeof(bool))
        {
            if (bool.TryParse(trimmed, out bool b)) return JsonValue.Create(b);
            return Null(Fail("a boolean (allowed: true, false)"));
        }
        if (t.IsEnum)
        {
            var names = Enum.GetNames(t);
            var name = names.FirstOrDefault(n => Normalize(n) == Normalize(trimmed));
            return name is not null ? JsonValue.Create(name) : Null(Fail($"one of: {string.Join(", ", names)}"));
        }
        if (t == typeof(int) || t == typeof(long) || t == typeof(short) || t == typeof(byte) || t == typeof(uint) || t == typeof(ulong))
        {
            (decimal min, decimal max) = t == typeof(int) ? ((decimal)int.MinValue, (decimal)int.MaxValue)
                : t == typeof(long) ? ((decimal)long.MinValue, (decimal)long.MaxValue)
                : t == typeof(short) ? ((decimal)short.MinValue, (decimal)short.MaxValue)
                : t == typeof(byte) ? ((decimal)byte.MinValue, (decimal)byte.MaxValue)
                : t == typeof(uint) ? ((decimal)uint.MinValue, (decimal)uint.MaxValue) : (0m, (decimal)ulong.MaxValue);
            string cleaned = trimmed.Replace("_", "");
            if (decimal.TryParse(cleaned, NumberStyles.Float, inv, out var d) && d == decimal.Truncate(d))
            {
                if (d < min || d > max) return Null(Fail($"an integer in {min.ToString(inv)}…{max.ToString(inv)} ({TypeName(t)})"));
                return JsonNode.Parse(d.ToString("0", inv));
            }
            return Null(Fail($"an integer ({TypeName(t)})"));
        }
        if (t == typeof(double) || t == typeof(float) || t == typeof(decimal))
        {
            if (double.TryParse(trimmed.Replace("_", ""), NumberStyles.Float, inv, out var d) && double.IsFinite(d))
                return JsonNode.Parse(d.ToString("R", inv));
            return Null(Fail($"a finite number ({TypeName(t)}, e.g. 3e-4)"));
        }
        // Anything else (TimeSpan, Guid, ...): let System.Text.Json parse the text.
        try
        {
            var value = JsonSerializer.Deserialize(JsonValue.Create(raw).ToJsonString(), t, ConfigJson.Options);
            return JsonSerializer.SerializeToNode(value, t, ConfigJson.Options);
        }
        catch (JsonException)
        {
            return Null(Fail($"a valid {TypeName(t)}"));
        }
    }

    private static JsonNode? Null(string _) => null;

    private static string TypeName(Type t) => t == typeof(int) ? "int" : t == typeof(long) ? "long" : t == typeof(double) ? "double"
        : t == typeof(float) ? "float" : t == typeof(bool) ? "bool" : t == typeof(string) ? "string" : t.Name;

    /// <summary>What a key of type <paramref name="t"/> accepts, in words.</summary>
    public static string DescribeType(Type t)
    {
        t = Nullable.GetUnderlyingType(t) ?? t;
        if (t == typeof(bool)) return "a boolean (true or false)";
        if (t == typeof(string)) return "text";
        if (t.IsEnum) return "one of: " + string.Join(", ", Enum.GetNames(t));
        if (t == typeof(int) || t == typeof(long) || t == typeof(short) || t == typeof(byte)) return $"an integer ({TypeName(t)})";
        if (t == typeof(double) || t == typeof(float) || t == typeof(decimal)) return $"a number ({TypeName(t)})";
        var elem = ElementType(t);
        if (elem is not null) return $"a list of {Plural(elem)}, e.g. [a,b,c] or a,b,c";
        if (IsComplex(t)) return $"a group of settings ({t.Name})";
        return TypeName(t);
    }

    private static string Plural(Type t)
    {
        t = Nullable.GetUnderlyingType(t) ?? t;
        if (t == typeof(bool)) return "booleans";
        if (t == typeof(string)) return "texts";
        if (t.IsEnum) return "names (" + string.Join(", ", Enum.GetNames(t)) + ")";
        if (t == typeof(int) || t == typeof(long) || t == typeof(short) || t == typeof(byte)) return $"integers ({TypeName(t)})";
        if (t == typeof(double) || t == typeof(float) || t == typeof(decimal)) return $"numbers ({TypeName(t)})";
        return $"{t.Name} values";
    }

    // ---------- files ----------

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

    private static JsonNode? YamlToJson(string text)
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

    // ---------- validation attributes ----------

    /// <summary>Checks DataAnnotations attributes ([Range], [Required], ...) on every property of the
    /// config and its nested records (attributes on primary-constructor parameters count too).</summary>
    public static IReadOnlyList<string> ValidateAttributes(object config)
    {
        var problems = new List<string>();
        void Walk(object obj, string prefix, int depth)
        {
            var type = obj.GetType();
            var ctorParams = type.GetConstructors().SelectMany(c => c.GetParameters()).ToList();
            foreach (var p in ConfigProperties(type))
            {
                string key = prefix + JsonKey(p);
                object? value = p.GetValue(obj);
                var attrs = p.GetCustomAttributes<ValidationAttribute>(true)
                    .Concat(ctorParams.Where(cp => cp.Name == p.Name && cp.ParameterType == p.PropertyType)
                        .SelectMany(cp => cp.GetCustomAttributes<ValidationAttribute>(true)))
                    .Distinct();
                foreach (var a in attrs)
                {
                    if (a.IsValid(value)) continue;
                    string shown = value is IFormattable f ? f.ToString(null, CultureInfo.InvariantCulture) : value?.ToString() ?? "null";
                    problems.Add(a is RangeAttribute r
                        ? $"'{key}' = {shown} is out of range: allowed {(r.MinimumIsExclusive ? "> " : "")}{Fmt(r.Minimum)} … {(r.MaximumIsExclusive ? "< " : "")}{Fmt(r.Maximum)}."
                        : $"'{key}' = {shown} is not allowed: {a.FormatErrorMessage(key)}");
                }
                if (value is null || depth > 8) continue;
                if (IsComplex(p.PropertyType)) Walk(value, key + ".", depth + 1);
                else if (ElementType(p.PropertyType) is { } et && IsComplex(et) && value is IEnumerable items)
                {
                    int i = 0;
                    foreach (var item in items)
                    {
                        if (item is not null) Walk(item, $"{key}[{i}].", depth + 1);
                        i++;
                    }
                }
            }
        }
        Walk(config, "", 0);
        return problems;
    }

    private static string Fmt(object o) => o is IFormattable f ? f.ToString(null, CultureInfo.InvariantCulture) : o.ToString() ?? "";
}

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
