using System.Globalization;
using System.Text;

namespace MoeLab.Experiments.Cluster;

/// <summary>The batch script of a sweep's array job: one array task per sweep index, each running
/// <c>moelab sweep-task &lt;sweep-dir&gt; $SLURM_ARRAY_TASK_ID</c> (this build, absolute paths) with its
/// own log file &lt;sweep-dir&gt;/logs/task-&lt;index&gt;.log (appended to, so a requeued or resubmitted
/// task keeps the earlier attempts' lines). The task replaces the shell (exec), so Slurm's SIGTERM
/// (scancel, preemption, time limit) reaches it directly: it checkpoints, marks the run interrupted
/// and exits 143; with --requeue (pass it with --sbatch-arg) Slurm starts it again and it resumes.</summary>
public static class SlurmBatchScript
{
    public const string LogsFolder = "logs";

    /// <summary>The log file of one task (what the script's --output names for index <paramref name="index"/>).</summary>
    public static string LogPath(string sweepDirectory, int index) =>
        Path.Combine(sweepDirectory, LogsFolder, $"task-{index.ToString(CultureInfo.InvariantCulture)}.log");

    public static string Build(string sweepId, string experiment, string sweepDirectory, IReadOnlyCollection<int> indices,
        SlurmOptions options, MoelabInvocation cli)
    {
        string dir = Path.GetFullPath(sweepDirectory);
        var r = options.Resources;
        var sb = new StringBuilder();
        sb.Append("#!/bin/bash\n");
        void Directive(string text) => sb.Append("#SBATCH ").Append(text).Append('\n');
        Directive($"--job-name={JobName(experiment, sweepId)}");
        Directive($"--array={ArraySpec.Format(indices, r.MaxParallel)}");
        Directive($"--output={Path.Combine(dir, LogsFolder, "task-%a.log")}");
        Directive("--open-mode=append");
        Directive("--ntasks=1");
        if (options.Partition is not null) Directive($"--partition={options.Partition}");
        if (r.Time is not null) Directive($"--time={r.Time}");
        if (r.CpusPerTask is { } c) Directive($"--cpus-per-task={c.ToString(CultureInfo.InvariantCulture)}");
        if (r.Memory is not null) Directive($"--mem={r.Memory}");
        foreach (string extra in options.Extra) Directive(extra);
        sb.Append($"# Written by `moelab sweep --backend slurm` for {sweepId} ({experiment}): array task i runs index i of\n");
        sb.Append($"# {Path.Combine(dir, Runtime.SweepTaskList.FileName)}. `moelab sweep-status {dir}` shows every index.\n");
        sb.Append("set -euo pipefail\n");
        foreach (var (k, v) in MoelabInvocation.Environment) sb.Append($"export {k}=\"${{{k}:-{v}}}\"\n");
        sb.Append(MoelabInvocation.JemallocShell());
        sb.Append("# LibTorch threads = the CPUs Slurm gave the task (unless the job's environment says otherwise).\n");
        sb.Append("if [ -n \"${SLURM_CPUS_PER_TASK:-}\" ]; then export OMP_NUM_THREADS=\"${OMP_NUM_THREADS:-$SLURM_CPUS_PER_TASK}\"; fi\n");
        sb.Append("echo \"== moelab sweep-task ${SLURM_ARRAY_TASK_ID}: job ${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID} on $(hostname) at $(date -u +%Y-%m-%dT%H:%M:%SZ)\"\n");
        sb.Append($"exec {Quote(cli.Dotnet)} {Quote(cli.Assembly)} sweep-task {Quote(dir)} \"$SLURM_ARRAY_TASK_ID\"" +
                  (options.Device is null ? "" : $" --device {Quote(options.Device)}") + "\n");
        return sb.ToString();
    }

    /// <summary>moelab-&lt;experiment&gt;-&lt;sweep-id&gt;: what squeue shows in its NAME column.</summary>
    public static string JobName(string experiment, string sweepId) => $"moelab-{experiment}-{sweepId}";

    /// <summary>A POSIX-shell single-quoted word.</summary>
    public static string Quote(string s) =>
        s.Length > 0 && s.All(ch => char.IsAsciiLetterOrDigit(ch) || "/._-+=:@,".Contains(ch)) ? s : "'" + s.Replace("'", "'\\''") + "'";
}
