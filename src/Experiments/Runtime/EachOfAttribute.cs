using System.Collections;
using System.ComponentModel.DataAnnotations;

namespace MoeLab.Experiments.Runtime;

/// <summary>Config validation: every element of a string list (or a single string) is one of the
/// allowed names, compared exactly. Null and empty lists pass (use [Required]/[MinLength] for those).</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Parameter)]
public sealed class EachOfAttribute(params string[] allowed) : ValidationAttribute
{
    public IReadOnlyList<string> Allowed { get; } = allowed;

    public override bool IsValid(object? value) => value switch
    {
        null => true,
        string s => Allowed.Contains(s),
        IEnumerable items => items.Cast<object?>().All(i => i is string s && Allowed.Contains(s)),
        _ => false,
    };

    public override string FormatErrorMessage(string name) => $"every entry must be one of {string.Join(", ", Allowed)}";
}
