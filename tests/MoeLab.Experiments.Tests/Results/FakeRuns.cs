using System.Globalization;
using System.Text;
using System.Text.Json;
using MoeLab.Experiments.Runtime;

namespace MoeLab.Experiments.Tests.Results;

/// <summary>Writes small run directories in the RunLayout format for tests (no dependency on the
/// run recorder).</summary>
public sealed class FakeRuns : IDisposable
{
    public string Root { get; } = Path.Combine(Path.GetTempPath(), "moelab-test-" + Guid.NewGuid().ToString("N")[..10]);

    public FakeRuns() => Directory.CreateDirectory(Root);

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }

    /// <summary>Writes results/&lt;experiment&gt;/[&lt;sweep&gt;/]&lt;runId&gt;/ with a manifest, and the
    /// given summary rows (arm, then columns) and history rows (step, arm, metric, value).</summary>
    public string WriteRun(string experiment, string runId, long seed, object config, string status = RunLayout.Status.Completed,
        string? sweep = null, string? summaryCsv = null, IEnumerable<(long Step, string Arm, string Metric, double? Value)>? history = null,
        string preset = "smoke")
    {
        string dir = sweep is null ? Path.Combine(Root, experiment, runId) : Path.Combine(Root, experiment, sweep, runId);
        Directory.CreateDirectory(dir);
        var manifest = new Dictionary<string, object?>
        {
            ["experiment"] = experiment, ["runId"] = runId, ["preset"] = preset, ["seed"] = seed,
            ["overrides"] = Array.Empty<string>(), ["config"] = config, ["configHash"] = "h" + JsonSerializer.Serialize(config).GetHashCode().ToString("x"),
            ["gitCommit"] = "abc1234", ["device"] = "cpu", ["packages"] = new Dictionary<string, string> { ["TorchSharp"] = "0.107.0" },
            ["startedAt"] = "2026-11-26T01:00:00Z", ["endedAt"] = "2026-11-26T01:00:05Z", ["status"] = status,
            ["error"] = status == RunLayout.Status.Failed ? "boom" : null,
        };
        File.WriteAllText(Path.Combine(dir, RunLayout.Manifest), JsonSerializer.Serialize(manifest, new JsonSerializerOptions { WriteIndented = true }));
        if (summaryCsv is not null) File.WriteAllText(Path.Combine(dir, RunLayout.Summary), summaryCsv);
        if (history is not null)
        {
            var sb = new StringBuilder("step,arm,metric,value\n");
            foreach (var (step, arm, metric, value) in history)
                sb.Append(step).Append(',').Append(arm).Append(',').Append(metric).Append(',')
                  .Append(value?.ToString("R", CultureInfo.InvariantCulture) ?? "").Append('\n');
            File.WriteAllText(Path.Combine(dir, RunLayout.Metrics), sb.ToString());
        }
        return dir;
    }

    /// <summary>A sweep of a toy experiment: experts ∈ {4, 8} × seeds {1, 2, 3}, two arms each, with
    /// known final accuracies (acc = base + seed/100) and a loss history of 3 steps.</summary>
    public string WriteToySweep(string experiment = "toy")
    {
        foreach (long experts in new[] { 4L, 8L })
            foreach (long seed in new[] { 1L, 2L, 3L })
            {
                var config = new { model = new { experts, hidden = 16, dropout = 0.1, gated = true }, train = new { lr = 0.001, steps = 3, seed } };
                double baseAcc = experts == 4 ? 0.5 : 0.6;
                string summary = "arm,schedule,accuracy,loss\n" +
                                 $"dense,\"const, warm\",{(baseAcc + seed / 100.0).ToString("R", CultureInfo.InvariantCulture)},{(1.0 / seed).ToString("R", CultureInfo.InvariantCulture)}\n" +
                                 $"moe,cosine,\"{(baseAcc + 0.1 + seed / 100.0).ToString("R", CultureInfo.InvariantCulture)}\",\n"; // quoted number: still a metric
                var history = new List<(long, string, string, double?)>();
                foreach (string arm in new[] { "dense", "moe" })
                    for (long step = 1; step <= 3; step++)
                        history.Add((step, arm, "loss", 2.0 / step + seed * 0.1 + (arm == "moe" ? -0.2 : 0)));
                WriteRun(experiment, $"e{experts}-s{seed}", seed, config, sweep: "sweep-1", summaryCsv: summary, history: history);
            }
        // A failed run must be listed but not aggregated.
        WriteRun(experiment, "broken", 9, new { model = new { experts = 4L, hidden = 16, dropout = 0.1, gated = true }, train = new { lr = 0.001, steps = 3, seed = 9L } },
            status: RunLayout.Status.Failed, summaryCsv: "arm,schedule,accuracy,loss\ndense,x,0.0,99\n");
        return Path.Combine(Root, experiment);
    }
}
