using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using MoeLab.Experiments.Runtime;

namespace MoeLab.Experiments.Results;

/// <summary>One run directory as read from disk (see <see cref="RunLayout"/>): its manifest fields,
/// its resolved config flattened to dotted keys, and where its files are.</summary>
public sealed record RunRecord
{
    public required string Directory { get; init; }
    public required string RunId { get; init; }
    public required string Experiment { get; init; }
    public string? Preset { get; init; }
    public long? Seed { get; init; }
    public string Status { get; init; } = "unknown";
    public string? Device { get; init; }
    public string? GitCommit { get; init; }
    public string? ConfigHash { get; init; }
    public string? StartedAt { get; init; }
    public string? EndedAt { get; init; }
    public string? Error { get; init; }
    /// <summary>Manifest field "failedBeforeStart": a failed run that computed nothing (no metric,
    /// summary or checkpoint; e.g. a missing data set).</summary>
    public bool FailedBeforeStart { get; init; }
    /// <summary>The resolved config as JSON text (indented), or null when the manifest has none.</summary>
    public string? ConfigJson { get; init; }
    /// <summary>The resolved config flattened: "model.experts" → 8 (long), 0.1 (double), true, "text";
    /// arrays and nulls are kept as JSON text / null.</summary>
    public IReadOnlyDictionary<string, object?> Config { get; init; } = new Dictionary<string, object?>();

    public string ManifestPath => Path.Combine(Directory, RunLayout.Manifest);
    public string MetricsPath => Path.Combine(Directory, RunLayout.Metrics);
    public string SummaryPath => Path.Combine(Directory, RunLayout.Summary);
    public string FiguresDirectory => Path.Combine(Directory, RunLayout.Figures);
    public string TablesDirectory => Path.Combine(Directory, RunLayout.Tables);

    public bool IsCompleted => Status == RunLayout.Status.Completed;

    /// <summary>The status in words: "failed before start" for a failed run that computed nothing,
    /// else <see cref="Status"/>.</summary>
    public string StatusText => FailedBeforeStart && Status == RunLayout.Status.Failed ? "failed before start" : Status;

    /// <summary>The first non-blank line of <see cref="Error"/> (trimmed), or null.</summary>
    public string? ErrorFirstLine => Error?.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0);

    /// <summary>Reads <c>manifest.json</c> of <paramref name="runDirectory"/>. Field names are those
    /// in <see cref="RunLayout"/> (camelCase); the config is read from "config" (or "resolvedConfig").</summary>
    /// <exception cref="DataFileException">the manifest is not valid JSON, or a field has the wrong type.</exception>
    public static RunRecord Load(string runDirectory)
    {
        string dir = Path.GetFullPath(runDirectory);
        string path = Path.Combine(dir, RunLayout.Manifest);
        if (!File.Exists(path)) throw new FileNotFoundException($"{dir} is not a run directory: {RunLayout.Manifest} not found", path);
        JsonDocument doc;
        try { doc = JsonDocument.Parse(File.ReadAllText(path)); }
        catch (JsonException e)
        {
            int? line = e.LineNumber is long l ? checked((int)l + 1) : null;
            string detail = JsonPosition.Replace(e.Message, "").Trim();
            throw new DataFileException(path, line, $"not valid JSON ({detail})", e);
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new DataFileException(path, null, $"expected a JSON object at the top level, got {root.ValueKind}");
            string? Str(string name) => root.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null
                ? (v.ValueKind == JsonValueKind.String ? v.GetString() : v.GetRawText()) : null;
            long? seed = null;
            if (root.TryGetProperty("seed", out var s) && s.ValueKind != JsonValueKind.Null)
            {
                if (s.ValueKind == JsonValueKind.Number && s.TryGetInt64(out long sv)) seed = sv;
                else if (s.ValueKind == JsonValueKind.String && long.TryParse(s.GetString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out sv)) seed = sv;
                else throw new DataFileException(path, null, $"field 'seed' must be an integer, got {s.GetRawText()}");
            }
            JsonElement config = default;
            bool hasConfig = root.TryGetProperty("config", out config) || root.TryGetProperty("resolvedConfig", out config);
            var flat = new Dictionary<string, object?>();
            if (hasConfig && config.ValueKind == JsonValueKind.Object) Flatten(config, "", flat);
            return new RunRecord
            {
                Directory = dir,
                RunId = Str("runId") ?? Path.GetFileName(dir),
                Experiment = Str("experiment") ?? Path.GetFileName(Path.GetDirectoryName(dir)) ?? "unknown",
                Preset = Str("preset"),
                Seed = seed,
                Status = Str("status") ?? "unknown",
                Device = Str("device"),
                GitCommit = Str("gitCommit"),
                ConfigHash = Str("configHash"),
                StartedAt = Str("startedAt"),
                EndedAt = Str("endedAt"),
                Error = Str("error"),
                FailedBeforeStart = root.TryGetProperty("failedBeforeStart", out var fbs) && fbs.ValueKind == JsonValueKind.True,
                ConfigJson = hasConfig && config.ValueKind != JsonValueKind.Null
                    ? JsonSerializer.Serialize(config, new JsonSerializerOptions { WriteIndented = true }) : null,
                Config = flat,
            };
        }
    }

    /// <summary>The " LineNumber: n | BytePositionInLine: m." tail of System.Text.Json messages
    /// (the line is reported separately).</summary>
    static readonly Regex JsonPosition = new(@"\s*(Path: \S*\s*\|\s*)?LineNumber: \d+ \| BytePositionInLine: \d+\.?", RegexOptions.CultureInvariant);

    static void Flatten(JsonElement element, string prefix, Dictionary<string, object?> into)
    {
        foreach (var p in element.EnumerateObject())
        {
            string key = prefix.Length == 0 ? p.Name : prefix + "." + p.Name;
            var v = p.Value;
            switch (v.ValueKind)
            {
                case JsonValueKind.Object: Flatten(v, key, into); break;
                case JsonValueKind.Number: into[key] = v.TryGetInt64(out long l) ? (object)l : v.GetDouble(); break;
                case JsonValueKind.True: into[key] = true; break;
                case JsonValueKind.False: into[key] = false; break;
                case JsonValueKind.String: into[key] = v.GetString(); break;
                case JsonValueKind.Null: into[key] = null; break;
                default: into[key] = v.GetRawText(); break; // arrays: JSON text
            }
        }
    }
}
