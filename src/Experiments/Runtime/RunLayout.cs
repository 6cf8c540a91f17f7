namespace MoeLab.Experiments.Runtime;

/// <summary>The on-disk layout of one run: results/&lt;experiment&gt;/&lt;run-id&gt;/ (sweeps nest
/// runs one level deeper: results/&lt;experiment&gt;/&lt;sweep-id&gt;/&lt;run-id&gt;/; readers find runs
/// by their manifest at any depth). Every file is written atomically (temp file + rename).
/// <list type="bullet">
/// <item><c>manifest.json</c>: experiment, runId, preset, seed, overrides, resolved config,
/// configHash, gitCommit, device, packages, startedAt, endedAt, status, error.</item>
/// <item><c>metrics.csv</c>: long format <c>step,arm,metric,value</c> (invariant culture).</item>
/// <item><c>summary.csv</c>: one row per arm: <c>arm</c>, label columns (strings), metric columns
/// (doubles; empty = missing).</item>
/// <item><c>tables/&lt;name&gt;.csv</c>, <c>figures/&lt;name&gt;.json|png|svg</c> (Plotly figure JSON; images from `moelab figures`),
/// <c>checkpoint/&lt;entry&gt;</c>, <c>log.txt</c>.</item>
/// <item><c>tensorboard/events.out.tfevents.*</c>: the metrics of metrics.csv as TensorBoard scalars,
/// one file per process that wrote the run (see <see cref="TensorBoardEventWriter"/>).</item>
/// </list></summary>
public static class RunLayout
{
    public const string Manifest = "manifest.json";
    public const string Metrics = "metrics.csv";
    public const string Summary = "summary.csv";

    /// <summary>Wall-clock figures (throughput, peak memory) in the metrics.csv layout; not reproducible by nature.</summary>
    public const string System = "system.csv";
    public const string Tables = "tables";
    public const string Figures = "figures";
    public const string Checkpoint = "checkpoint";
    public const string Log = "log.txt";
    public const string TensorBoard = "tensorboard";

    /// <summary>Values of the manifest's "status" field.</summary>
    public static class Status
    {
        public const string Running = "running";
        public const string Completed = "completed";
        public const string Failed = "failed";
        public const string Interrupted = "interrupted";
    }

    /// <summary>Default results root: $MOELAB_RESULTS, else &lt;repo&gt;/results (found by walking up
    /// to Experiments.sln), else ./results.</summary>
    public static string DefaultResultsRoot()
    {
        string? env = Environment.GetEnvironmentVariable("MOELAB_RESULTS");
        if (!string.IsNullOrWhiteSpace(env)) return Path.GetFullPath(env);
        string? repo = FindRepoRoot(Directory.GetCurrentDirectory()) ?? FindRepoRoot(AppContext.BaseDirectory);
        return repo is null ? Path.GetFullPath("results") : Path.Combine(repo, "results");
    }

    /// <summary>Walks up from <paramref name="start"/> to the folder holding Experiments.sln.</summary>
    public static string? FindRepoRoot(string start)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Experiments.sln"))) return dir.FullName;
        return null;
    }
}
