using System.Reflection;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace MoeLab.Experiments.Notebooks;

/// <summary>What a notebook script session references by default (the MoeLab assemblies and
/// everything they depend on, as loaded in the runner), and how a cell's <c>#r</c> lines resolve:
/// <list type="bullet">
/// <item><c>#r "path/X.dll"</c> (relative to the notebook): when the runner already holds an assembly
/// named X (for example <c>#r "lib/MoeLab.Experiments.dll"</c>), the runner's own copy is used, so
/// types are not loaded twice; otherwise the file, which must exist.</item>
/// <item><c>#r "nuget: Id, Version"</c>: a package the runner was built with (its deps.json), at that
/// version; else the package's <c>lib/</c> folder in the NuGet cache; else an error saying so.</item>
/// </list></summary>
public sealed class ScriptReferences
{
    static readonly Lazy<ScriptReferences> defaults = new(Build);

    /// <summary>The default set, built once per process.</summary>
    public static ScriptReferences Default => defaults.Value;

    static readonly Lazy<ScriptReferences> frameworkOnly = new(() =>
    {
        string runtimeDir = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        var framework = Default.bySimpleName
            .Where(kv => string.Equals(Path.GetDirectoryName(kv.Value), runtimeDir, StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.OrdinalIgnoreCase);
        return new ScriptReferences(framework, new Dictionary<string, (string, List<string>)>(StringComparer.OrdinalIgnoreCase));
    });

    /// <summary>Only the .NET framework assemblies, no MoeLab and no packages: what a notebook
    /// front end gives a C# cell before the notebook's own <c>#r</c> lines. Used to check that a
    /// notebook references everything it uses itself.</summary>
    public static ScriptReferences FrameworkOnly => frameworkOnly.Value;

    /// <summary>Simple name → file of every assembly a session references.</summary>
    public IReadOnlyDictionary<string, string> Assemblies => bySimpleName;

    /// <summary>Metadata references for <see cref="Assemblies"/>, created once so that later
    /// sessions reuse the metadata Roslyn has already read.</summary>
    public IReadOnlyList<Microsoft.CodeAnalysis.MetadataReference> MetadataReferences => metadataReferences.Value;

    readonly Lazy<IReadOnlyList<Microsoft.CodeAnalysis.MetadataReference>> metadataReferences;

    readonly Dictionary<string, string> bySimpleName;
    readonly Dictionary<string, (string Version, List<string> AssemblyNames)> packages;

    /// <summary>Namespaces every session imports.</summary>
    public static readonly string[] DefaultImports =
    {
        "System", "System.Collections.Generic", "System.IO", "System.Linq", "System.Text",
        "System.Threading", "System.Threading.Tasks", "System.Globalization",
        "Microsoft.Data.Analysis", "TorchSharp",
    };

    /// <summary>The namespaces the .NET Interactive C# kernel imported by default (the imports of
    /// <see cref="NotebookRunOptions.OnlyNotebookReferences"/> runs).</summary>
    public static readonly string[] FrontEndImports =
    {
        "System", "System.Collections.Generic", "System.Linq", "System.Text", "System.Threading.Tasks",
    };

    ScriptReferences(Dictionary<string, string> assemblies, Dictionary<string, (string, List<string>)> packages)
    {
        bySimpleName = assemblies;
        this.packages = packages;
        metadataReferences = new(() => assemblies.Values
            .Select(path => (Microsoft.CodeAnalysis.MetadataReference)Microsoft.CodeAnalysis.MetadataReference.CreateFromFile(path)).ToList());
    }

    /// <summary>The framework assemblies MoeLab uses (found by walking references from MoeLab's
    /// assemblies) plus every managed assembly deployed beside MoeLab.Experiments.dll (the MoeLab
    /// libraries and all packages they bring, used in IL or not, such as Plotly.NET.CSharp).</summary>
    static ScriptReferences Build()
    {
        var found = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var queue = new Queue<Assembly>();
        void Add(Assembly a)
        {
            if (a.IsDynamic || string.IsNullOrEmpty(a.Location)) return;
            if (found.TryAdd(a.GetName().Name!, a.Location)) queue.Enqueue(a);
        }
        Add(typeof(ScriptReferences).Assembly);
        Add(typeof(object).Assembly);
        Add(typeof(Enumerable).Assembly);
        Add(typeof(Console).Assembly);
        Add(typeof(List<>).Assembly);
        foreach (var name in new[] { "System.Runtime", "netstandard", "System.Collections", "System.Linq.Expressions", "Microsoft.CSharp" })
            TryLoad(new AssemblyName(name), Add);
        while (queue.Count > 0)
            foreach (var reference in queue.Dequeue().GetReferencedAssemblies())
                if (!found.ContainsKey(reference.Name!)) TryLoad(reference, Add);
        string libraryDir = Path.GetDirectoryName(typeof(ScriptReferences).Assembly.Location)!;
        foreach (var file in Directory.GetFiles(libraryDir, "*.dll").OrderBy(f => f, StringComparer.Ordinal))
        {
            string simple = Path.GetFileNameWithoutExtension(file);
            if (found.ContainsKey(simple) || IsTestInfrastructure(simple)) continue;
            try { AssemblyName.GetAssemblyName(file); } // managed?
            catch (Exception e) when (e is BadImageFormatException or FileLoadException) { continue; }
            found[simple] = file;
        }
        return new ScriptReferences(found, ReadDepsPackages());
    }

    static bool IsTestInfrastructure(string name) =>
        name.StartsWith("xunit", StringComparison.OrdinalIgnoreCase) || name.StartsWith("testhost", StringComparison.OrdinalIgnoreCase) ||
        name.StartsWith("Microsoft.TestPlatform", StringComparison.OrdinalIgnoreCase) ||
        name.StartsWith("Microsoft.VisualStudio", StringComparison.OrdinalIgnoreCase) ||
        name.StartsWith("MoeLab.", StringComparison.Ordinal) && name.EndsWith(".Tests", StringComparison.Ordinal);

    static void TryLoad(AssemblyName name, Action<Assembly> add)
    {
        try { add(Assembly.Load(name)); }
        catch (Exception e) when (e is FileNotFoundException or FileLoadException or BadImageFormatException) { }
    }

    /// <summary>Packages the running application was built with, from its deps.json file(s):
    /// id → (version, runtime assembly names).</summary>
    static Dictionary<string, (string, List<string>)> ReadDepsPackages()
    {
        var result = new Dictionary<string, (string, List<string>)>(StringComparer.OrdinalIgnoreCase);
        var files = (AppContext.GetData("APP_CONTEXT_DEPS_FILES") as string ?? "")
            .Split(';', StringSplitOptions.RemoveEmptyEntries).ToList();
        string own = Path.ChangeExtension(typeof(ScriptReferences).Assembly.Location, ".deps.json");
        if (File.Exists(own)) files.Add(own);
        foreach (var file in files.Where(File.Exists).Distinct())
        {
            JsonNode? root;
            try { root = JsonNode.Parse(File.ReadAllText(file)); }
            catch (Exception e) when (e is System.Text.Json.JsonException or IOException) { continue; }
            if (root?["targets"] is not JsonObject targets || root["libraries"] is not JsonObject libraries) continue;
            foreach (var (_, target) in targets)
            {
                if (target is not JsonObject entries) continue;
                foreach (var (key, entry) in entries)
                {
                    int slash = key.IndexOf('/');
                    if (slash <= 0 || libraries[key]?["type"]?.GetValue<string>() != "package") continue;
                    string id = key[..slash], version = key[(slash + 1)..];
                    var names = (entry?["runtime"] as JsonObject)?.Select(kv => Path.GetFileNameWithoutExtension(kv.Key)).ToList() ?? new List<string>();
                    result.TryAdd(id, (version, names));
                }
            }
        }
        return result;
    }

    /// <summary>Whether the default set holds an assembly with this simple name.</summary>
    public bool TryGetAssembly(string simpleName, out string path) => bySimpleName.TryGetValue(simpleName, out path!);

    static readonly Regex ReferenceLine = new(@"^\s*#r\s+""(?<target>[^""]*)""\s*$", RegexOptions.Compiled);
    static readonly Regex NugetTarget = new(@"^nuget:\s*(?<id>[^,\s]+)\s*(,\s*(?<version>\S+))?\s*$", RegexOptions.Compiled | RegexOptions.IgnoreCase);

    /// <summary>Rewrites the <c>#r</c> lines of a cell: each becomes either a comment (satisfied by
    /// a default reference) or <c>#r "absolute path"</c>. Throws <see cref="NotebookReferenceException"/>
    /// with a message naming the cell line and what is missing. <paramref name="notes"/> receives
    /// one line per substitution.</summary>
    public string ResolveReferences(string source, string notebookDirectory, Action<string>? notes = null)
    {
        var lines = source.Split('\n');
        var sb = new StringBuilder();
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].TrimEnd('\r');
            var m = ReferenceLine.Match(line);
            if (!m.Success)
            {
                sb.Append(lines[i]);
            }
            else
            {
                string target = m.Groups["target"].Value;
                var n = NugetTarget.Match(target);
                var paths = n.Success
                    ? ResolvePackage(n.Groups["id"].Value, n.Groups["version"].Success ? n.Groups["version"].Value : null, i + 1, notes)
                    : ResolvePath(target, notebookDirectory, i + 1, notes);
                sb.Append(paths.Count == 0
                    ? "// " + line.Trim() + "  (provided by the MoeLab runner)"
                    : string.Join("\n", paths.Select(p => "#r \"" + p.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"")));
            }
            if (i < lines.Length - 1) sb.Append('\n');
        }
        return sb.ToString();
    }

    List<string> ResolvePath(string target, string notebookDirectory, int line, Action<string>? notes)
    {
        string full = Path.GetFullPath(Path.Combine(notebookDirectory, target));
        string simpleName = Path.GetFileNameWithoutExtension(full);
        if (full.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) && TryGetAssembly(simpleName, out var own))
        {
            notes?.Invoke($"#r \"{target}\": using the runner's own {simpleName} ({own})");
            return new List<string>();
        }
        if (!File.Exists(full))
            throw new NotebookReferenceException($"line {line}: #r \"{target}\": file not found (resolved to {full}); " +
                "paths are relative to the notebook's folder");
        return new List<string> { full };
    }

    List<string> ResolvePackage(string id, string? version, int line, Action<string>? notes)
    {
        if (packages.TryGetValue(id, out var pkg))
        {
            if (version is not null && !string.Equals(version, pkg.Version, StringComparison.OrdinalIgnoreCase))
                throw new NotebookReferenceException($"line {line}: #r \"nuget: {id}, {version}\": the MoeLab runner is built with {id} {pkg.Version}; " +
                    $"use that version (two versions of one package cannot be loaded side by side)");
            var paths = new List<string>();
            foreach (var name in pkg.AssemblyNames)
            {
                if (TryGetAssembly(name, out _)) continue;
                try { paths.Add(Assembly.Load(new AssemblyName(name)).Location); }
                catch (Exception e) when (e is FileNotFoundException or FileLoadException)
                {
                    throw new NotebookReferenceException($"line {line}: #r \"nuget: {id}\": assembly {name} of the runner's package could not be loaded: {e.Message}");
                }
            }
            notes?.Invoke($"#r \"nuget: {id}{(version is null ? "" : ", " + version)}\": using the runner's {id} {pkg.Version}");
            return paths;
        }
        string cache = NugetCacheRoot();
        string packageDir = Path.Combine(cache, id.ToLowerInvariant());
        string? chosen = version?.ToLowerInvariant();
        if (chosen is null && Directory.Exists(packageDir))
            chosen = Directory.GetDirectories(packageDir).Select(Path.GetFileName).OfType<string>()
                .OrderByDescending(v => Version.TryParse(v.Split('-')[0], out var pv) ? pv : new Version(0, 0)).FirstOrDefault();
        string? libDir = chosen is null ? null : BestLibFolder(Path.Combine(packageDir, chosen, "lib"));
        if (libDir is null)
            throw new NotebookReferenceException($"line {line}: #r \"nuget: {id}{(version is null ? "" : ", " + version)}\": package not available. " +
                $"The runner resolves packages it is built with (add the package to Directory.Packages.props and " +
                $"src/Experiments/MoeLab.Experiments.csproj) or packages already in the NuGet cache ({packageDir}" +
                (chosen is null ? "" : Path.DirectorySeparatorChar + chosen) + "); it does not download.");
        var dlls = Directory.GetFiles(libDir, "*.dll").OrderBy(p => p, StringComparer.Ordinal).ToList();
        notes?.Invoke($"#r \"nuget: {id}\": using {libDir} (dependencies of this package are not resolved)");
        return dlls;
    }

    static string NugetCacheRoot()
    {
        string? env = Environment.GetEnvironmentVariable("NUGET_PACKAGES");
        return !string.IsNullOrWhiteSpace(env) ? env
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
    }

    /// <summary>The lib/&lt;tfm&gt; folder best suited to this runtime (netN.0 newest first, then netstandard).</summary>
    static string? BestLibFolder(string lib)
    {
        if (!Directory.Exists(lib)) return null;
        int major = Environment.Version.Major;
        var preferred = Enumerable.Range(5, Math.Max(0, major - 4)).Reverse().Select(v => $"net{v}.0")
            .Concat(new[] { "netcoreapp3.1", "netstandard2.1", "netstandard2.0" });
        return preferred.Select(tfm => Path.Combine(lib, tfm)).FirstOrDefault(Directory.Exists);
    }
}

/// <summary>A <c>#r</c> line that cannot be satisfied.</summary>
public sealed class NotebookReferenceException(string message) : Exception(message);
