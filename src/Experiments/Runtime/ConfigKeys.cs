using System.Collections;
using System.Reflection;
using System.Text.Json.Serialization;

namespace MoeLab.Experiments.Runtime;

/// <summary>Config keys: dotted camelCase paths resolved against a config record's properties
/// (case-insensitive, '-' and '_' ignored), with "did you mean" suggestions.</summary>
public static class ConfigKeys
{
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



    internal static List<PropertyInfo>? ResolvePath(Type root, ConfigOverride o, List<string> problems)
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
                problems.Add($"{o.Source}: unknown key '{o.Key}' (value '{o.Value}'): '{prefix}' is {ConfigValues.DescribeType(current)} and has no sub-keys.");
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

    internal static List<string> Suggest(Type root, string prefix, string seg, List<PropertyInfo> siblings)
    {
        string n = Normalize(seg);
        var near = siblings.Select(p => (key: JsonKey(p), d: Levenshtein(Normalize(p.Name), n)))
            .Where(x => x.d <= Math.Max(2, n.Length / 3)).OrderBy(x => x.d)
            .Select(x => prefix.Length == 0 ? x.key : prefix + "." + x.key).ToList();
        // The same leaf name elsewhere in the tree (e.g. 'lr' typed at the top level → 'train.lr').
        var elsewhere = Keys(root).Where(k => Normalize(k.Split('.')[^1]) == n || Levenshtein(Normalize(k.Split('.')[^1]), n) <= 1);
        return near.Concat(elsewhere).Distinct().Take(3).ToList();
    }

    internal static string Normalize(string s) => s.Replace("-", "").Replace("_", "").ToLowerInvariant();

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

    internal static IEnumerable<PropertyInfo> ConfigProperties(Type t) =>
        t.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanRead && p.GetIndexParameters().Length == 0 && p.Name != "EqualityContract"
                        && p.GetCustomAttribute<JsonIgnoreAttribute>() is null);

    /// <summary>A nested config record/class (has sub-keys), as opposed to a leaf value.</summary>
    internal static bool IsComplex(Type t) =>
        (t.IsClass || (t.IsValueType && !t.IsPrimitive && !t.IsEnum && Nullable.GetUnderlyingType(t) is null && t.Namespace?.StartsWith("System") != true))
        && t != typeof(string) && !typeof(IEnumerable).IsAssignableFrom(t) && t.Namespace?.StartsWith("System") != true;

    internal static Type? ElementType(Type t)
    {
        if (t == typeof(string)) return null;
        if (t.IsArray) return t.GetElementType();
        if (t.IsGenericType && typeof(IEnumerable).IsAssignableFrom(t) && t.GetGenericArguments().Length == 1)
            return t.GetGenericArguments()[0];
        return null;
    }
}
