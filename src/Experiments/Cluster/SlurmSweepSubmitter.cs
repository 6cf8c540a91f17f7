using System.Globalization;
using System.Text.RegularExpressions;
using MoeLab.Experiments.Runtime;

namespace MoeLab.Experiments.Cluster;

/// <summary>Submits a sweep to Slurm as ONE array job (`moelab sweep --backend slurm`) and submits
/// again what did not complete (`moelab sweep-resubmit`). Array task i runs sweep index i with
/// `moelab sweep-task`; every submitted script is kept under &lt;sweep-dir&gt;/slurm/ and every job id
/// is recorded in &lt;sweep-dir&gt;/sweep-jobs.json.</summary>
public static partial class SlurmSweepSubmitter
{
    public const string ScriptsFolder = "slurm";

    /// <summary>Plans the sweep (writes sweep.json and sweep-tasks.json under the sweep lock) and
    /// submits its indices that are not completed or running. <paramref name="dryRun"/>: writes
    /// nothing, submits nothing, returns the script that would be submitted.</summary>
    /// <exception cref="ConfigException">a job of this sweep is still queued or running.</exception>
    public static SlurmSubmission Submit(SweepPlan plan, SlurmOptions options, SlurmClient client, MoelabInvocation cli, bool dryRun)
    {
        foreach (string extra in options.Extra)
            if (!extra.StartsWith('-') || extra.Contains('\n'))
                throw new ConfigException($"--sbatch-arg '{extra}': expected one sbatch option on one line, such as --requeue or --account=lab.");
        if (dryRun)
        {
            var existing = File.Exists(SweepTaskList.PathIn(plan.Directory)) ? SweepTaskList.Read(plan.Directory) : null;
            var merged = SweepTaskList.Merge(existing, plan.SweepId, plan.Experiment.Name, plan.Points);
            var byRun = merged.Tasks.ToDictionary(t => t.RunId);
            var (indices, left) = Select(plan.Directory, plan.Points.Select(p => byRun[p.RunId]));
            string script = indices.Count == 0 ? "" : SlurmBatchScript.Build(plan.SweepId, plan.Experiment.Name, plan.Directory, indices, options, cli);
            return new SlurmSubmission(plan.SweepId, plan.Directory, null, indices, script, null, left);
        }
        if (!SlurmClient.CanSubmit)
            throw new InvalidOperationException("sbatch is not on PATH: this machine cannot submit Slurm jobs (nothing was written). " +
                                                "Run on a Slurm login node, or use --dry-run to see the batch script.");
        using var sweepLock = DirectoryLock.Acquire(plan.Directory, "sweep");
        RefuseWhileActive(plan.Directory, client);
        var tasks = plan.WriteFiles();
        var (todo, leftAlone) = Select(plan.Directory, tasks);
        if (todo.Count == 0) return new SlurmSubmission(plan.SweepId, plan.Directory, null, todo, "", null, leftAlone);
        string text = SlurmBatchScript.Build(plan.SweepId, plan.Experiment.Name, plan.Directory, todo, options, cli);
        return SubmitScript(plan.SweepId, plan.Directory, text, todo, leftAlone, "submit", client);
    }

    /// <summary>Submits the indices that need it (<see cref="SweepIndexStatus.NeedsResubmit"/>) as a new
    /// array job, with the resources and options of the sweep's newest recorded script.</summary>
    /// <exception cref="ConfigException">the sweep was never submitted to Slurm.</exception>
    public static SlurmSubmission Resubmit(string sweepDirectory, SlurmClient client, bool dryRun)
    {
        string dir = Path.GetFullPath(sweepDirectory);
        if (!dryRun && !SlurmClient.CanSubmit)
            throw new InvalidOperationException("sbatch is not on PATH: this machine cannot submit Slurm jobs. Run on a Slurm login node, or use --dry-run.");
        using var sweepLock = dryRun ? null : DirectoryLock.Acquire(dir, "sweep");
        var report = SweepStatusReport.Read(dir, client);
        var last = report.Jobs.LastOrDefault(j => j.Backend == "slurm")
                   ?? throw new ConfigException($"{report.Sweep} was never submitted to Slurm (no job in {SweepJobLog.PathIn(dir)}); " +
                                                "submit it with `moelab sweep <experiment> ... --backend slurm`.");
        string lastScript = Path.Combine(dir, last.Script);
        if (!File.Exists(lastScript))
            throw new ConfigException($"The script of job {last.JobId} ({lastScript}) is gone; submit the sweep again with `moelab sweep ... --backend slurm`.");
        var todo = report.Indices.Where(i => i.NeedsResubmit).Select(i => i.Index).ToList();
        var left = report.Indices.Where(i => !i.NeedsResubmit)
            .Select(i => (i.Index, i.Scheduler?.IsActive == true ? $"{i.State}, still {i.Scheduler.State} in job {i.Scheduler.JobId}" : i.State)).ToList();
        string old = File.ReadAllText(lastScript);
        var match = ArrayLine().Match(old);
        if (!match.Success) throw new InvalidDataException($"{lastScript}: no '#SBATCH --array=' line; expected the script `moelab sweep --backend slurm` wrote.");
        string percent = match.Groups[1].Value.Contains('%') ? match.Groups[1].Value[match.Groups[1].Value.IndexOf('%')..] : "";
        if (todo.Count == 0) return new SlurmSubmission(report.Sweep, dir, null, todo, "", null, left);
        string text = ArrayLine().Replace(old, "#SBATCH --array=" + ArraySpec.Format(todo) + percent, 1);
        if (dryRun) return new SlurmSubmission(report.Sweep, dir, null, todo, text, null, left);
        return SubmitScript(report.Sweep, dir, text, todo, left, "resubmit", client);
    }

    private static SlurmSubmission SubmitScript(string sweepId, string dir, string script, IReadOnlyList<int> indices,
        IReadOnlyList<(int, string)> leftAlone, string kind, SlurmClient client)
    {
        // Slurm opens the --output file itself and does not create folders.
        Directory.CreateDirectory(Path.Combine(dir, SlurmBatchScript.LogsFolder));
        string relative = Path.Combine(ScriptsFolder, $"{kind}-{DateTime.UtcNow.ToString("yyyyMMdd-HHmmss-fff", CultureInfo.InvariantCulture)}.sbatch");
        string path = Path.Combine(dir, relative);
        AtomicFile.WriteAllText(path, script);
        string jobId = client.Submit(path);
        SweepJobLog.Append(dir, new SweepJob("slurm", jobId, ArraySpec.Format(indices), relative, kind, DateTimeOffset.UtcNow));
        return new SlurmSubmission(sweepId, dir, jobId, indices, script, path, leftAlone);
    }

    private static (List<int> Todo, List<(int, string)> LeftAlone) Select(string dir, IEnumerable<SweepTask> tasks)
    {
        var todo = new List<int>();
        var left = new List<(int, string)>();
        foreach (var t in tasks)
        {
            var (state, _) = SweepStatusReport.ResultState(Path.Combine(dir, t.RunId));
            if (state is RunLayout.Status.Completed or RunLayout.Status.Running) left.Add((t.Index, state));
            else todo.Add(t.Index);
        }
        return (todo, left);
    }

    private static void RefuseWhileActive(string dir, SlurmClient client)
    {
        var jobs = SweepJobLog.Read(dir).Where(j => j.Backend == "slurm").ToList();
        if (jobs.Count == 0) return;
        var active = client.Query(jobs.Select(j => j.JobId)).Tasks.Values.Where(t => t.IsActive).ToList();
        if (active.Count > 0)
            throw new ConfigException($"This sweep already has {active.Count} array task(s) queued or running ({string.Join(", ", active.Take(5))}" +
                                      $"{(active.Count > 5 ? ", ..." : "")}). Wait for them (`moelab sweep-status {dir}`), or cancel them " +
                                      $"(scancel {string.Join(' ', active.Select(a => a.JobId).Distinct())}) and submit again; `moelab sweep-resubmit {dir}` " +
                                      "submits only what did not complete.");
    }

    [GeneratedRegex(@"^#SBATCH --array=(\S+)$", RegexOptions.Multiline)]
    private static partial Regex ArrayLine();
}
