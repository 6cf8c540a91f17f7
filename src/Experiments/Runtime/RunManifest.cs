using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using MoeLab.Models.Runtime;
using TorchSharp;

namespace MoeLab.Experiments.Runtime;

/// <summary>manifest.json of a run (see <see cref="RunLayout"/>). Extra fields beyond the layout:
/// <c>sweep</c> (sweep id or null) and <c>resumedAt</c> (times the run was resumed).</summary>
public sealed record RunManifest
{
    public required string Experiment { get; init; }
    public required string RunId { get; init; }
    public required string Preset { get; init; }
    public required long Seed { get; init; }
    public required IReadOnlyList<string> Overrides { get; init; }
    public required JsonNode Config { get; init; }
    public required string ConfigHash { get; init; }
    public required string GitCommit { get; init; }
    public required string Device { get; init; }
    public required IReadOnlyDictionary<string, string> Packages { get; init; }
    public required DateTimeOffset StartedAt { get; init; }
    public DateTimeOffset? EndedAt { get; init; }
    public required string Status { get; init; }
    public string? Error { get; init; }
    public string? Sweep { get; init; }
    public IReadOnlyList<DateTimeOffset> ResumedAt { get; init; } = Array.Empty<DateTimeOffset>();

    /// <summary>The numerics mode the run started with (pinned CPU code paths or not; see
    /// <see cref="DeterministicNumerics"/>). Null in manifests written before it was recorded.</summary>
    public NumericsSettings? Numerics { get; init; }

    /// <summary>The malloc the run's process used ("glibc", or "jemalloc (MALLOC_CONF=…)" under the <c>./moelab</c>
    /// wrapper where jemalloc is installed). Null in manifests written before it was recorded.</summary>
    public string? Allocator { get; init; }

    /// <summary>True when a failed run failed before it computed anything (no metric, summary or
    /// checkpoint: e.g. a missing data set). Reports list such runs apart and leave them out of
    /// aggregates.</summary>
    public bool FailedBeforeStart { get; init; }

    public static RunManifest Read(string runDirectory)
    {
        string path = Path.Combine(runDirectory, RunLayout.Manifest);
        if (!File.Exists(path)) throw new FileNotFoundException($"'{runDirectory}' is not a run directory: it has no {RunLayout.Manifest}.", path);
        try
        {
            return JsonSerializer.Deserialize<RunManifest>(File.ReadAllText(path), ConfigJson.Options)
                   ?? throw new InvalidDataException($"{path} is empty.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} is not a valid run manifest (at '{e.Path}'): {e.Message}", e);
        }
    }

    public void Write(string runDirectory) =>
        AtomicFile.WriteAllText(Path.Combine(runDirectory, RunLayout.Manifest), JsonSerializer.Serialize(this, ConfigJson.Options));

    /// <summary>Versions that decide the numbers: TorchSharp, LibTorch, .NET, MoeLab.</summary>
    public static IReadOnlyDictionary<string, string> PackageVersions()
    {
        static string Informational(Assembly a)
        {
            string v = a.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
                       ?? a.GetName().Version?.ToString() ?? "unknown";
            int plus = v.IndexOf('+');
            return plus > 0 ? v[..plus] : v;
        }
        var d = new Dictionary<string, string>
        {
            ["MoeLab.Experiments"] = Informational(typeof(RunManifest).Assembly),
            ["TorchSharp"] = Informational(typeof(torch).Assembly),
            ["TorchBackend"] = TorchDevice.Backend,
            [".NET"] = Environment.Version.ToString(),
            ["OS"] = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
        };
        try { d["LibTorch"] = torch.__version__; } catch (Exception e) when (e is TypeInitializationException or DllNotFoundException or InvalidOperationException) { d["LibTorch"] = "unavailable"; }
        return d;
    }
}
