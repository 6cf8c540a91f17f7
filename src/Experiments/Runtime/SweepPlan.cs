using System.Text.Json;
using System.Text.Json.Nodes;

namespace MoeLab.Experiments.Runtime;

/// <summary>A sweep resolved before anything runs: the Cartesian product of the grid axes (last axis
/// fastest) × seeds, each point resolved and validated, the sweep id and directory. Shared by the
/// local sweep and the cluster backends, which all lay runs out the same way:
/// results/&lt;experiment&gt;/sweep-&lt;hash8&gt;/&lt;configHash8&gt;-s&lt;seed&gt;/. The sweep id hashes the
/// experiment, preset, config file content, --set overrides and grid (not the seeds, so adding
/// seeds extends the same sweep).</summary>
public sealed class SweepPlan
{
    private SweepPlan(IExperiment experiment, string sweepId, string directory, string preset, string? configFile,
        IReadOnlyList<string> sets, IReadOnlyList<GridAxis> grid, IReadOnlyList<long> seeds, IReadOnlyList<SweepPoint> points)
    {
        Experiment = experiment;
        SweepId = sweepId;
        Directory = directory;
        Preset = preset;
        ConfigFile = configFile;
        Sets = sets;
        Grid = grid;
        Seeds = seeds;
        Points = points;
    }

    public IExperiment Experiment { get; }
    public string SweepId { get; }
    public string Directory { get; }
    public string Preset { get; }
    public string? ConfigFile { get; }
    public IReadOnlyList<string> Sets { get; }
    public IReadOnlyList<GridAxis> Grid { get; }
    public IReadOnlyList<long> Seeds { get; }

    /// <summary>Every run this invocation asks for, point-major, seeds fastest.</summary>
    public IReadOnlyList<SweepPoint> Points { get; }

    /// <summary>Resolves every point; throws <see cref="ConfigException"/> listing every problem
    /// (each prefixed with its grid point) before anything is written.</summary>
    public static SweepPlan Create(IExperiment experiment, string preset, string? configFile, IReadOnlyList<string> sets,
        IReadOnlyList<GridAxis> grid, IReadOnlyList<long> seeds, string resultsRoot)
    {
        if (seeds.Count == 0) throw new ConfigException("--seeds: at least one seed is needed.");
        var dupAxis = grid.GroupBy(a => a.Key, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1);
        if (dupAxis is not null) throw new ConfigException($"--grid '{dupAxis.Key}' is given more than once; put all its values in one --grid.");

        var combos = new List<List<string>> { new() };
        foreach (var axis in grid)
            combos = combos.SelectMany(p => axis.Values.Select(v => p.Append($"{axis.Key}={v}").ToList())).ToList();

        var resolved = new List<(string Label, ResolvedConfig Config)>();
        var problems = new List<string>();
        foreach (var p in combos)
        {
            try
            {
                resolved.Add((p.Count == 0 ? "(base)" : string.Join(' ', p),
                    ConfigBinder.Resolve(experiment, preset, configFile, sets.Concat(p).ToList())));
            }
            catch (ConfigException e)
            {
                problems.AddRange(e.Problems.Select(x => p.Count == 0 ? x : $"[{string.Join(' ', p)}] {x}"));
            }
        }
        if (problems.Count > 0) throw new ConfigException(problems.Distinct().ToList());

        string fileHash = configFile is null ? "" : ConfigBinder.HashOf(File.ReadAllText(configFile));
        string resolvedPreset = resolved[0].Config.Preset;
        string sweepKey = string.Join('\n', new[] { experiment.Name, resolvedPreset, fileHash }
            .Concat(sets).Append("--grid").Concat(grid.Select(a => a.Key + "=" + string.Join('\u001f', a.Values))));
        string sweepId = "sweep-" + ConfigBinder.HashOf(sweepKey)[..8];
        string dir = Path.GetFullPath(Path.Combine(resultsRoot, experiment.Name, sweepId));
        var points = resolved.SelectMany(r => seeds.Select(s => new SweepPoint(r.Label, r.Config, s, $"{r.Config.Hash[..8]}-s{s}"))).ToList();
        return new SweepPlan(experiment, sweepId, dir, resolvedPreset, configFile, sets, grid, seeds, points);
    }

    /// <summary>Writes sweep.json (seeds merged with earlier invocations) and sweep-tasks.json
    /// (this plan's runs merged into the existing list: old indices kept, new runs appended), both
    /// atomically, and returns this plan's tasks in plan order. The caller holds the sweep
    /// directory's lock.</summary>
    public IReadOnlyList<SweepTask> WriteFiles()
    {
        WriteSweepFile();
        SweepTaskList? existing = File.Exists(SweepTaskList.PathIn(Directory)) ? SweepTaskList.Read(Directory) : null;
        var list = SweepTaskList.Merge(existing, SweepId, Experiment.Name, Points);
        list.Write(Directory);
        var byRun = list.Tasks.ToDictionary(t => t.RunId);
        return Points.Select(p => byRun[p.RunId]).ToList();
    }

    private void WriteSweepFile()
    {
        string path = Path.Combine(Directory, "sweep.json");
        var allSeeds = new SortedSet<long>(Seeds);
        if (File.Exists(path))
        {
            try
            {
                if (JsonNode.Parse(File.ReadAllText(path))?["seeds"] is JsonArray old)
                    foreach (var s in old) if (s is not null) allSeeds.Add(s.GetValue<long>());
            }
            catch (JsonException) { }
        }
        var doc = new JsonObject
        {
            ["sweep"] = SweepId,
            ["experiment"] = Experiment.Name,
            ["preset"] = Preset,
            ["configFile"] = ConfigFile,
            ["overrides"] = new JsonArray(Sets.Select(s => (JsonNode?)JsonValue.Create(s)).ToArray()),
            ["grid"] = new JsonObject(Grid.Select(a => KeyValuePair.Create(a.Key,
                (JsonNode?)new JsonArray(a.Values.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray())))),
            ["seeds"] = new JsonArray(allSeeds.Select(s => (JsonNode?)JsonValue.Create(s)).ToArray()),
        };
        AtomicFile.WriteAllText(path, doc.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }
}
