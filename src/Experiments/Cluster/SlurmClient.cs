using System.Globalization;

namespace MoeLab.Experiments.Cluster;

/// <summary>Talks to Slurm through its command-line tools: sbatch to submit, squeue (jobs Slurm
/// still remembers: pending, running and, for MinJobAge seconds, finished) and sacct (accounting,
/// when the cluster keeps it) to ask about array tasks.</summary>
public sealed class SlurmClient
{
    public static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(60);

    /// <summary>True when sbatch is on PATH.</summary>
    public static bool CanSubmit => ExternalCommand.Find("sbatch") is not null;

    /// <summary>Submits a batch script with <c>sbatch --parsable</c> and returns the job id.</summary>
    /// <exception cref="InvalidOperationException">sbatch is missing or refused the script (its message included).</exception>
    public string Submit(string scriptPath)
    {
        string sbatch = ExternalCommand.Find("sbatch")
                        ?? throw new InvalidOperationException("sbatch is not on PATH: this machine cannot submit Slurm jobs. " +
                                                               "Run on a Slurm login node, or use --dry-run to see the batch script.");
        var (code, output, err) = ExternalCommand.Run(sbatch, ["--parsable", scriptPath], CommandTimeout);
        string first = output.Trim().Split('\n').FirstOrDefault()?.Trim() ?? "";
        string id = first.Split(';')[0];
        if (code != 0 || id.Length == 0 || !id.All(char.IsAsciiDigit))
            throw new InvalidOperationException($"sbatch {scriptPath} failed (exit {code}): {(err + output).Trim()}");
        return id;
    }

    /// <summary>The state of every array task of <paramref name="jobIds"/> that squeue or sacct knows.
    /// sacct's answer counts only where squeue has none (squeue is the live view).</summary>
    public SchedulerView Query(IEnumerable<string> jobIds)
    {
        var ids = jobIds.Distinct().ToList();
        var tasks = new Dictionary<(string, int), SchedulerTaskState>();
        var notes = new List<string>();
        if (ids.Count == 0) return new SchedulerView(tasks, notes);
        string? squeue = ExternalCommand.Find("squeue"), sacct = ExternalCommand.Find("sacct");
        if (squeue is null && sacct is null)
        {
            notes.Add("squeue and sacct are not on PATH: the scheduler's view is unknown here.");
            return new SchedulerView(tasks, notes);
        }
        if (squeue is not null)
        {
            var forgotten = new List<string>();
            foreach (string id in ids)
            {
                var (code, output, _) = ExternalCommand.Run(squeue, ["-h", "-r", "-t", "all", "-j", id, "-o", "%F|%K|%T|%r"], CommandTimeout);
                if (code != 0)
                {
                    forgotten.Add(id);
                    continue;
                }
                foreach (string line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                {
                    string[] f = line.Split('|');
                    if (f.Length >= 4 && int.TryParse(f[1], NumberStyles.None, CultureInfo.InvariantCulture, out int index))
                        tasks[(f[0], index)] = new SchedulerTaskState(f[0], index, f[2], f[3], "squeue");
                }
            }
            if (forgotten.Count > 0) notes.Add($"squeue no longer knows job(s) {string.Join(", ", forgotten)} (finished more than MinJobAge ago).");
        }
        else notes.Add("squeue is not on PATH.");
        if (sacct is not null)
        {
            var (code, output, err) = ExternalCommand.Run(sacct, ["-n", "-X", "-P", "-j", string.Join(',', ids), "-o", "JobID,State"], CommandTimeout);
            if (code != 0) notes.Add($"sacct: {(err + output).Trim().Split('\n')[0]}");
            else
                foreach (string line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                {
                    string[] f = line.Split('|');
                    if (f.Length < 2) continue;
                    int us = f[0].IndexOf('_');
                    if (us <= 0) continue;
                    string job = f[0][..us], spec = f[0][(us + 1)..].Trim('[', ']');
                    IReadOnlyList<int> indices;
                    try { indices = ArraySpec.Parse(spec); }
                    catch (FormatException) { continue; }
                    foreach (int i in indices)
                        tasks.TryAdd((job, i), new SchedulerTaskState(job, i, f[1], null, "sacct"));
                }
        }
        return new SchedulerView(tasks, notes);
    }
}
