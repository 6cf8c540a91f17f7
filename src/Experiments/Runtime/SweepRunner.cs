using System.Text.Json;
using System.Text.Json.Nodes;

namespace MoeLab.Experiments.Runtime;

/// <summary>One axis of a grid: <c>key=v1,v2,v3</c>. Values are split on ';' when the text holds
/// one (for list values: <c>model.hiddenSizes=[8,8];[16]</c>), else on ','.</summary>
public sealed record GridAxis(string Key, IReadOnlyList<string> Values)
{
    public static GridAxis Parse(string text)
    {
        int eq = text.IndexOf('=');
        if (eq <= 0 || eq == text.Length - 1)
            throw new ConfigException($"--grid '{text}': expected key=v1,v2,..., e.g. --grid model.experts=4,8.");
        string values = text[(eq + 1)..];
        var list = (values.Contains(';') ? values.Split(';') : values.Split(','))
            .Select(v => v.Trim()).Where(v => v.Length > 0).ToList();
        if (list.Count == 0) throw new ConfigException($"--grid '{text}': no values given.");
        return new GridAxis(text[..eq].Trim(), list);
    }
}

/// <summary>One run of a sweep and how it went.</summary>
/// <param name="Point">The grid point, e.g. "model.experts=4 train.lr=0.001" ("(base)" for an empty grid).</param>
/// <param name="Status">completed / failed / interrupted / running, or "pending" when the sweep was stopped first.</param>
/// <param name="Action">What this invocation did: ran, resumed, skipped (already completed), retried (failed before), or not started.</param>
public sealed record SweepRunResult(string Point, long Seed, string RunId, string RunDirectory, string Status, string? Error,
    IReadOnlyList<SummaryRow> Summary, string Action);

public sealed record SweepResult(string SweepId, string Directory, IReadOnlyList<SweepRunResult> Runs);

/// <summary>Runs the Cartesian product of grid axes × seeds under
/// results/&lt;experiment&gt;/sweep-&lt;hash&gt;/&lt;configHash8&gt;-s&lt;seed&gt;/. The sweep id hashes the
/// experiment, preset, config file content, --set overrides and grid (not the seeds, so adding
/// seeds extends the same sweep); run ids hash the resolved config, so re-running skips completed
/// runs, resumes interrupted ones and retries failed ones from scratch. Every point is resolved
/// and validated before anything runs. A failed run is recorded and the others go on; a
/// cancellation (Ctrl+C) interrupts the current run and leaves the rest pending.</summary>
public static class SweepRunner
{
    public static SweepResult Run(IExperiment experiment, string preset, string? configFile, IReadOnlyList<string> sets,
        IReadOnlyList<GridAxis> grid, IReadOnlyList<long> seeds, RunOptions options,
        Func<string, Func<IProgressSink, RunOutcome>, RunOutcome>? wrapRun = null)
    {
        if (seeds.Count == 0) throw new ConfigException("--seeds: at least one seed is needed.");
        var dupAxis = grid.GroupBy(a => a.Key, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1);
        if (dupAxis is not null) throw new ConfigException($"--grid '{dupAxis.Key}' is given more than once; put all its values in one --grid.");

        // Cartesian product, last axis fastest.
        var points = new List<List<string>> { new() };
        foreach (var axis in grid)
            points = points.SelectMany(p => axis.Values.Select(v => p.Append($"{axis.Key}={v}").ToList())).ToList();

        // Resolve every point first: nothing runs on a bad config.
        var resolved = new List<(string Label, ResolvedConfig Config)>();
        var problems = new List<string>();
        foreach (var p in points)
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
        string sweepKey = string.Join('\n', new[] { experiment.Name, resolved[0].Config.Preset, fileHash }
            .Concat(sets).Append("--grid").Concat(grid.Select(a => a.Key + "=" + string.Join('\u001f', a.Values))));
        string sweepId = "sweep-" + ConfigBinder.HashOf(sweepKey)[..8];
        string sweepDir = Path.Combine(options.ResultsRoot, experiment.Name, sweepId);
        // One driver per sweep: a second `moelab sweep` with the same grid is refused, naming the first.
        using var sweepLock = DirectoryLock.Acquire(sweepDir, "sweep");
        WriteSweepFile(sweepDir, sweepId, experiment, resolved[0].Config.Preset, configFile, sets, grid, seeds);

        wrapRun ??= (_, body) => body(options.Progress);
        var results = new List<SweepRunResult>();
        foreach (var (label, cfg) in resolved)
        foreach (long seed in seeds)
        {
            string runId = $"{cfg.Hash[..8]}-s{seed}";
            string runDir = Path.Combine(sweepDir, runId);
            if (options.Cancellation.IsCancellationRequested)
            {
                results.Add(new SweepRunResult(label, seed, runId, runDir, "pending", null, Array.Empty<SummaryRow>(), "not started"));
                continue;
            }
            string? status = File.Exists(Path.Combine(runDir, RunLayout.Manifest)) ? RunManifest.Read(runDir).Status : null;
            if (status == RunLayout.Status.Completed)
            {
                results.Add(new SweepRunResult(label, seed, runId, runDir, status, null, RunRecorder.ReadSummary(runDir), "skipped"));
                continue;
            }
            string action = status switch
            {
                null => "ran",
                RunLayout.Status.Failed => "retried",
                _ => "resumed",
            };
            string runLabel = $"{label} seed {seed}";
            try
            {
                if (status == RunLayout.Status.Failed || (status is null && Directory.Exists(runDir)))
                    ClearRunDirectory(runDir);
                var outcome = wrapRun(runLabel, progress =>
                {
                    var o = options with { Progress = progress };
                    return action == "resumed"
                        ? ExperimentRunner.Resume(runDir, o)
                        : ExperimentRunner.Run(experiment, cfg, seed, o, runDir, sweepId);
                });
                results.Add(new SweepRunResult(label, seed, runId, runDir, outcome.Status, outcome.Error, outcome.Summary, action));
            }
            catch (DirectoryInUseException e)
            {
                // Someone resumed this run by hand (or a cluster task runs it): leave it to them.
                results.Add(new SweepRunResult(label, seed, runId, runDir, RunLayout.Status.Running, e.Message,
                    Array.Empty<SummaryRow>(), "skipped (live elsewhere)"));
            }
        }
        return new SweepResult(sweepId, sweepDir, results);
    }

    /// <summary>Empties a failed or half-created run directory before it is run again, holding its
    /// lock so that a live writer is never pulled from under.</summary>
    private static void ClearRunDirectory(string runDir)
    {
        using var runLock = DirectoryLock.Acquire(runDir, "run");
        foreach (string entry in Directory.EnumerateFileSystemEntries(runDir))
        {
            string name = Path.GetFileName(entry);
            if (name is DirectoryLock.LockFile or DirectoryLock.OwnerFile) continue;
            if (Directory.Exists(entry)) Directory.Delete(entry, recursive: true);
            else File.Delete(entry);
        }
    }

    private static void WriteSweepFile(string sweepDir, string sweepId, IExperiment experiment, string preset, string? configFile,
        IReadOnlyList<string> sets, IReadOnlyList<GridAxis> grid, IReadOnlyList<long> seeds)
    {
        string path = Path.Combine(sweepDir, "sweep.json");
        var allSeeds = new SortedSet<long>(seeds);
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
            ["sweep"] = sweepId,
            ["experiment"] = experiment.Name,
            ["preset"] = preset,
            ["configFile"] = configFile,
            ["overrides"] = new JsonArray(sets.Select(s => (JsonNode?)JsonValue.Create(s)).ToArray()),
            ["grid"] = new JsonObject(grid.Select(a => KeyValuePair.Create(a.Key,
                (JsonNode?)new JsonArray(a.Values.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray())))),
            ["seeds"] = new JsonArray(allSeeds.Select(s => (JsonNode?)JsonValue.Create(s)).ToArray()),
        };
        AtomicFile.WriteAllText(path, doc.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }
}

/// <summary>Parses --seeds: a count N (seeds base … base+N−1) or a comma-separated list (1,7,42).</summary>
public static class SeedList
{
    public static IReadOnlyList<long> Parse(string? text, long seedBase = 0)
    {
        if (string.IsNullOrWhiteSpace(text)) return [seedBase];
        string t = text.Trim();
        if (t.Contains(','))
        {
            var seeds = new List<long>();
            foreach (string part in t.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (!long.TryParse(part, out long s))
                    throw new ConfigException($"--seeds '{text}': '{part}' is not an integer; allowed: a count (3) or a list (1,7,42).");
                seeds.Add(s);
            }
            if (seeds.Distinct().Count() != seeds.Count) throw new ConfigException($"--seeds '{text}': a seed is listed twice.");
            return seeds;
        }
        if (!int.TryParse(t, out int n) || n < 1 || n > 10_000)
            throw new ConfigException($"--seeds '{text}': expected a count 1 … 10000 (e.g. 3 → seeds {seedBase},{seedBase + 1},{seedBase + 2}) or a list like 1,7,42 (one seed: '42,').");
        return Enumerable.Range(0, n).Select(i => seedBase + i).ToList();
    }
}
