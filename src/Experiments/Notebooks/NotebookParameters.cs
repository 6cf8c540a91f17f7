using System.Globalization;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace MoeLab.Experiments.Notebooks;

/// <summary>Papermill's parameter convention for C# notebooks: values given on the command line
/// are injected as a new code cell, tagged <c>injected-parameters</c>, right after the cell tagged
/// <c>parameters</c> (or first, when there is none), replacing an earlier injected cell. A value
/// takes the type declared for that name in the parameters cell (<c>int steps = 100;</c>); for
/// <c>var</c> or undeclared names it is inferred like papermill does: true/false → bool, an
/// integer → int (long when large), a number → double, anything else → string.</summary>
public static class NotebookParameters
{
    public const string ParametersTag = "parameters";
    public const string InjectedTag = "injected-parameters";

    /// <summary>Parses <c>key=value</c>; the key must be a C# identifier.</summary>
    public static KeyValuePair<string, string> ParseAssignment(string text)
    {
        int eq = text.IndexOf('=');
        if (eq <= 0) throw new ArgumentException($"parameter '{text}': expected key=value");
        string key = text[..eq].Trim(), value = text[(eq + 1)..];
        if (!SyntaxFacts.IsValidIdentifier(key) || SyntaxFacts.GetKeywordKind(key) != SyntaxKind.None)
            throw new ArgumentException($"parameter '{text}': '{key}' is not a valid C# variable name");
        return new(key, value);
    }

    /// <summary>Injects the parameters; returns the index of the new cell, or -1 when there are none.
    /// <paramref name="warn"/> hears about names the parameters cell does not declare.</summary>
    public static int Inject(Notebook notebook, IReadOnlyList<KeyValuePair<string, string>> parameters, Action<string>? warn = null)
    {
        notebook.Cells.RemoveAll(c => c.HasTag(InjectedTag));
        if (parameters.Count == 0) return -1;
        int at = notebook.Cells.FindIndex(c => c.IsCode && c.HasTag(ParametersTag));
        var declared = at >= 0 ? DeclaredTypes(notebook.Cells[at].Source) : new Dictionary<string, string>();
        if (at < 0) warn?.Invoke("no cell is tagged 'parameters'; injecting parameters as the first cell");
        var sb = new StringBuilder("// Parameters injected by `moelab notebook run`\n");
        // The last value given for a name wins.
        foreach (var (name, raw) in parameters.GroupBy(p => p.Key).Select(g => g.Last()))
        {
            declared.TryGetValue(name, out string? type);
            if (at >= 0 && type is null) warn?.Invoke($"parameter '{name}' is not declared in the parameters cell");
            var (literalType, literal) = Literal(name, raw, type);
            sb.Append(literalType).Append(' ').Append(name).Append(" = ").Append(literal).Append(";\n");
        }
        var cell = NotebookCell.CreateCode(sb.ToString().TrimEnd('\n'), InjectedTag);
        notebook.Cells.Insert(at + 1, cell);
        return at + 1;
    }

    /// <summary>Names declared at the top level of a parameters cell → their declared type ("var" kept).</summary>
    public static Dictionary<string, string> DeclaredTypes(string source)
    {
        var tree = CSharpSyntaxTree.ParseText(source, new CSharpParseOptions(kind: SourceCodeKind.Script));
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var decl in tree.GetRoot().DescendantNodes().OfType<VariableDeclarationSyntax>())
        {
            if (decl.Parent is not (LocalDeclarationStatementSyntax or FieldDeclarationSyntax)) continue;
            if (decl.Ancestors().Any(a => a is BlockSyntax or TypeDeclarationSyntax)) continue;
            foreach (var v in decl.Variables) result[v.Identifier.Text] = decl.Type.ToString();
        }
        return result;
    }

    /// <summary>The declaration type and C# literal for one value.</summary>
    public static (string Type, string Literal) Literal(string name, string raw, string? declaredType)
    {
        string type = declaredType is null or "var" ? Infer(raw) : declaredType;
        (string, string) Bad(string expected) => throw new ArgumentException($"parameter '{name}': '{raw}' is not a valid {expected} (the parameters cell declares {type} {name})");
        var inv = CultureInfo.InvariantCulture;
        string trimmed = raw.Trim();
        switch (type)
        {
            case "string" or "String" or "System.String":
                return (type, SymbolDisplay.FormatLiteral(raw, quote: true));
            case "bool" or "Boolean" or "System.Boolean":
                return bool.TryParse(trimmed, out bool b) ? (type, b ? "true" : "false") : Bad("bool (true/false)");
            case "int" or "Int32" or "System.Int32":
                return int.TryParse(trimmed, NumberStyles.Integer, inv, out int i) ? (type, i.ToString(inv)) : Bad("int");
            case "long" or "Int64" or "System.Int64":
                return long.TryParse(trimmed, NumberStyles.Integer, inv, out long l) ? (type, l.ToString(inv) + "L") : Bad("long");
            case "double" or "Double" or "System.Double":
                return double.TryParse(trimmed, NumberStyles.Float, inv, out double d) ? (type, DoubleLiteral(d)) : Bad("double");
            case "float" or "Single" or "System.Single":
                return float.TryParse(trimmed, NumberStyles.Float, inv, out float f) ? (type, f.ToString("R", inv) + "f") : Bad("float");
            case "decimal" or "Decimal" or "System.Decimal":
                return decimal.TryParse(trimmed, NumberStyles.Float, inv, out decimal m) ? (type, m.ToString(inv) + "m") : Bad("decimal");
            default:
                throw new ArgumentException($"parameter '{name}': the parameters cell declares it as {type}; " +
                    "only string, bool, int, long, double, float, decimal and var parameters can be set from the command line");
        }
    }

    static string Infer(string raw)
    {
        var inv = CultureInfo.InvariantCulture;
        string t = raw.Trim();
        if (t.Length == 0 || t != raw) return "string";
        if (bool.TryParse(t, out _)) return "bool";
        if (int.TryParse(t, NumberStyles.AllowLeadingSign, inv, out _)) return "int";
        if (long.TryParse(t, NumberStyles.AllowLeadingSign, inv, out _)) return "long";
        if (double.TryParse(t, NumberStyles.Float, inv, out double d) && double.IsFinite(d)) return "double";
        return "string";
    }

    static string DoubleLiteral(double d)
    {
        if (double.IsNaN(d)) return "double.NaN";
        if (double.IsPositiveInfinity(d)) return "double.PositiveInfinity";
        if (double.IsNegativeInfinity(d)) return "double.NegativeInfinity";
        string s = d.ToString("R", CultureInfo.InvariantCulture);
        return s.Contains('.') || s.Contains('E') ? s : s + ".0";
    }
}
