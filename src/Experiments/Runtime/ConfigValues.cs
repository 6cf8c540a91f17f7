using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MoeLab.Experiments.Runtime;

/// <summary>Converts an override's text or JSON to the JSON of the property's type (bool, integers,
/// numbers, strings, enums by name, lists, null for nullable keys, whole nested records), with a
/// message naming the key, the value and what was expected.</summary>
public static class ConfigValues
{
    internal static readonly NullabilityInfoContext Nullability = new();

    internal static JsonNode? ConvertValue(ConfigOverride o, PropertyInfo prop, List<string> problems)
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

    internal static JsonNode? ConvertNode(ConfigOverride o, JsonNode? node, Type type, bool nullable, List<string> problems)
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

        var elem = ConfigKeys.ElementType(t);
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
        if (ConfigKeys.IsComplex(t))
        {
            JsonNode? obj = node as JsonObject;
            if (obj is null)
            {
                try { obj = JsonNode.Parse(shown) as JsonObject; } catch (JsonException) { obj = null; }
                if (obj is null) return Null(Fail($"a JSON object for {t.Name} (keys: {string.Join(", ", ConfigKeys.ConfigProperties(t).Select(ConfigKeys.JsonKey))})"));
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
            var name = names.FirstOrDefault(n => ConfigKeys.Normalize(n) == ConfigKeys.Normalize(trimmed));
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

    internal static JsonNode? Null(string _) => null;

    internal static string TypeName(Type t) => t == typeof(int) ? "int" : t == typeof(long) ? "long" : t == typeof(double) ? "double"
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
        var elem = ConfigKeys.ElementType(t);
        if (elem is not null) return $"a list of {Plural(elem)}, e.g. [a,b,c] or a,b,c";
        if (ConfigKeys.IsComplex(t)) return $"a group of settings ({t.Name})";
        return TypeName(t);
    }

    internal static string Plural(Type t)
    {
        t = Nullable.GetUnderlyingType(t) ?? t;
        if (t == typeof(bool)) return "booleans";
        if (t == typeof(string)) return "texts";
        if (t.IsEnum) return "names (" + string.Join(", ", Enum.GetNames(t)) + ")";
        if (t == typeof(int) || t == typeof(long) || t == typeof(short) || t == typeof(byte)) return $"integers ({TypeName(t)})";
        if (t == typeof(double) || t == typeof(float) || t == typeof(decimal)) return $"numbers ({TypeName(t)})";
        return $"{t.Name} values";
    }
}
