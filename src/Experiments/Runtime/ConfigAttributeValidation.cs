using System.Collections;
using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Reflection;

namespace MoeLab.Experiments.Runtime;

/// <summary>Checks the DataAnnotations attributes ([Range], [Required], …) of a config and its
/// nested records; one message per problem naming the key, the value and what is allowed.</summary>
public static class ConfigAttributeValidation
{
    /// <summary>Checks DataAnnotations attributes ([Range], [Required], ...) on every property of the
    /// config and its nested records (attributes on primary-constructor parameters count too).</summary>
    public static IReadOnlyList<string> ValidateAttributes(object config)
    {
        var problems = new List<string>();
        void Walk(object obj, string prefix, int depth)
        {
            var type = obj.GetType();
            var ctorParams = type.GetConstructors().SelectMany(c => c.GetParameters()).ToList();
            foreach (var p in ConfigKeys.ConfigProperties(type))
            {
                string key = prefix + ConfigKeys.JsonKey(p);
                object? value = p.GetValue(obj);
                var attrs = p.GetCustomAttributes<ValidationAttribute>(true)
                    .Concat(ctorParams.Where(cp => cp.Name == p.Name && cp.ParameterType == p.PropertyType)
                        .SelectMany(cp => cp.GetCustomAttributes<ValidationAttribute>(true)))
                    .Distinct();
                foreach (var a in attrs)
                {
                    if (a.IsValid(value)) continue;
                    string shown = value switch
                    {
                        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
                        string str => $"\"{str}\"",
                        IEnumerable list => "[" + string.Join(", ", list.Cast<object?>().Select(e => e is string es ? $"\"{es}\"" : Fmt(e ?? "null"))) + "]",
                        null => "null",
                        _ => value.ToString() ?? "null",
                    };
                    problems.Add(a is RangeAttribute r
                        ? $"'{key}' = {shown} is out of range: allowed {(r.MinimumIsExclusive ? "> " : "")}{Fmt(r.Minimum)} … {(r.MaximumIsExclusive ? "< " : "")}{Fmt(r.Maximum)}."
                        : $"'{key}' = {shown} is not allowed: {a.FormatErrorMessage(key)}");
                }
                if (value is null || depth > 8) continue;
                if (ConfigKeys.IsComplex(p.PropertyType)) Walk(value, key + ".", depth + 1);
                else if (ConfigKeys.ElementType(p.PropertyType) is { } et && ConfigKeys.IsComplex(et) && value is IEnumerable items)
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

    internal static string Fmt(object o) => o is IFormattable f ? f.ToString(null, CultureInfo.InvariantCulture) : o.ToString() ?? "";
}
