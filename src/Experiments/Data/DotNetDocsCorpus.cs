using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace MoeLab.Experiments.Data;

/// <summary>English text documents extracted from the .NET SDK's API documentation XML
/// (<c>&lt;dotnet root&gt;/packs/Microsoft.NETCore.App.Ref/&lt;ver&gt;/ref/net10.0/*.xml</c>), present wherever
/// the SDK is installed. Used as an offline substitute for Recycling-the-Web (DynaMoE's LM
/// corpus, not reachable here): both are English prose, but ours is technical API prose with a
/// narrower vocabulary, so perplexities are not comparable with the paper's in absolute terms.
/// One document = one type: the <c>&lt;summary&gt;</c> and <c>&lt;remarks&gt;</c> text of the type
/// (<c>T:</c> member) and of every member documented under it, in file order.</summary>
public static partial class DotNetDocsCorpus
{
    /// <summary>The directory holding the reference-pack XML files: $MOELAB_DOTNET_DOCS_DIR, else the
    /// newest packs/Microsoft.NETCore.App.Ref/*/ref/net*/ under $DOTNET_ROOT, the running runtime's
    /// root, /usr/share/dotnet, /usr/lib/dotnet.</summary>
    public static string FindXmlDirectory()
    {
        string? env = Environment.GetEnvironmentVariable("MOELAB_DOTNET_DOCS_DIR");
        if (!string.IsNullOrWhiteSpace(env))
        {
            if (!Directory.Exists(env)) throw new DataUnavailableException($"MOELAB_DOTNET_DOCS_DIR={env} does not exist.");
            return env;
        }
        var roots = new List<string>();
        if (Environment.GetEnvironmentVariable("DOTNET_ROOT") is { Length: > 0 } r) roots.Add(r);
        // RuntimeEnvironment dir = <root>/shared/Microsoft.NETCore.App/<ver>/
        string runtimeDir = RuntimeEnvironment.GetRuntimeDirectory();
        var up = Directory.GetParent(runtimeDir.TrimEnd('/', '\\'))?.Parent?.Parent;
        if (up is not null) roots.Add(up.FullName);
        roots.Add("/usr/share/dotnet"); roots.Add("/usr/lib/dotnet");
        foreach (string root in roots.Distinct())
        {
            string packs = Path.Combine(root, "packs", "Microsoft.NETCore.App.Ref");
            if (!Directory.Exists(packs)) continue;
            var candidates = Directory.GetDirectories(packs)
                .OrderByDescending(d => Version.TryParse(Path.GetFileName(d).Split('-')[0], out var v) ? v : new Version(0, 0))
                .SelectMany(d => Directory.Exists(Path.Combine(d, "ref"))
                    ? Directory.GetDirectories(Path.Combine(d, "ref")).OrderByDescending(x => x, StringComparer.Ordinal)
                    : Enumerable.Empty<string>())
                .Where(d => Directory.GetFiles(d, "*.xml").Length > 0);
            if (candidates.FirstOrDefault() is string found) return found;
        }
        throw new DataUnavailableException(
            "The .NET SDK's API documentation XML was not found (looked for packs/Microsoft.NETCore.App.Ref/<ver>/ref/<tfm>/*.xml " +
            $"under: {string.Join(", ", roots.Distinct())}). Install the .NET SDK (not just the runtime) or set MOELAB_DOTNET_DOCS_DIR.");
    }

    /// <summary>All documents of all XML files in <paramref name="directory"/> (files in ordinal order),
    /// skipping documents shorter than <paramref name="minCharacters"/>.</summary>
    public static List<string> ReadDocuments(string directory, int minCharacters = 200)
    {
        var docs = new List<string>();
        foreach (string file in Directory.GetFiles(directory, "*.xml").OrderBy(f => f, StringComparer.Ordinal))
            docs.AddRange(ReadDocumentsFromFile(file).Where(d => d.Length >= minCharacters));
        return docs;
    }

    /// <summary>Documents of one XML doc file: members grouped by their type.</summary>
    public static IEnumerable<string> ReadDocumentsFromFile(string file)
    {
        XDocument xml;
        try { xml = XDocument.Load(file, LoadOptions.PreserveWhitespace); }
        catch (Exception e) { throw new InvalidDataException($"{file}: not a readable XML documentation file ({e.Message}).", e); }
        var members = xml.Root?.Element("members")?.Elements("member") ?? Enumerable.Empty<XElement>();
        string? currentType = null;
        var current = new StringBuilder();
        foreach (var member in members)
        {
            string name = (string?)member.Attribute("name") ?? "";
            string type = TypeOf(name);
            if (type != currentType)
            {
                if (current.Length > 0) yield return current.ToString().Trim();
                current.Clear();
                currentType = type;
            }
            foreach (string tag in new[] { "summary", "remarks" })
                foreach (var element in member.Elements(tag))
                {
                    string text = Normalise(TextOf(element));
                    if (text.Length > 0) current.Append(text).Append(text.EndsWith('.') ? " " : ". ");
                }
        }
        if (current.Length > 0) yield return current.ToString().Trim();
    }

    /// <summary>"M:System.String.Split(System.Char)" → "System.String"; "T:System.String" → "System.String".</summary>
    public static string TypeOf(string memberName)
    {
        if (memberName.Length < 2 || memberName[1] != ':') return memberName;
        string body = memberName[2..];
        int paren = body.IndexOf('(');
        if (paren >= 0) body = body[..paren];
        if (memberName[0] == 'T') return body;
        int dot = body.LastIndexOf('.');
        return dot > 0 ? body[..dot] : body;
    }

    /// <summary>Text of a doc element: cref/langword references become their short names,
    /// <c>&lt;paramref&gt;</c> its name, other markup its inner text.</summary>
    public static string TextOf(XElement element)
    {
        var sb = new StringBuilder();
        foreach (var node in element.Nodes())
        {
            switch (node)
            {
                case XText t: sb.Append(t.Value); break;
                case XElement e when e.Name.LocalName is "see" or "seealso":
                    if ((string?)e.Attribute("langword") is string lw) sb.Append(lw);
                    else if (!e.IsEmpty && e.Value.Length > 0) sb.Append(e.Value);
                    else if ((string?)e.Attribute("cref") is string cref) sb.Append(ShortName(cref));
                    else if ((string?)e.Attribute("href") is string href) sb.Append(href);
                    break;
                case XElement e when e.Name.LocalName is "paramref" or "typeparamref":
                    sb.Append((string?)e.Attribute("name") ?? ""); break;
                case XElement e: sb.Append(' ').Append(TextOf(e)).Append(' '); break;
            }
        }
        return sb.ToString();
    }

    private static string ShortName(string cref)
    {
        string body = cref.Length > 2 && cref[1] == ':' ? cref[2..] : cref;
        int paren = body.IndexOf('(');
        if (paren >= 0) body = body[..paren];
        int tick = body.IndexOf('`');
        if (tick >= 0) body = body[..tick];
        int dot = body.LastIndexOf('.');
        return dot >= 0 ? body[(dot + 1)..] : body;
    }

    private static string Normalise(string text) => Whitespace().Replace(text, " ").Trim();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
