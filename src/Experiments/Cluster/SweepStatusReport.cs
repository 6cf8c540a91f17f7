using MoeLab.Experiments.Runtime;

namespace MoeLab.Experiments.Cluster;

/// <summary>Every index of a sweep: its state from the results layout joined with the scheduler's
/// view of the jobs recorded in sweep-jobs.json (see <see cref="Read"/>).</summary>
public sealed record SweepStatusReport(string Sweep, string Experiment, string Directory, IReadOnlyList<SweepIndexStatus> Indices,
    IReadOnlyList<SweepJob> Jobs, IReadOnlyList<string> Notes)
{
    /// <summary>Reads a sweep directory. <paramref name="scheduler"/>: asked about the recorded jobs
    /// (null: not asked, e.g. a machine without Slurm).</summary>
    public static SweepStatusReport Read(string sweepDirectory, SlurmClient? scheduler)
    {
        string dir = Path.GetFullPath(sweepDirectory);
        var list = SweepTaskList.Read(dir);
        var jobs = SweepJobLog.Read(dir);
        var notes = new List<string>();
        var view = SchedulerView.None;
        if (jobs.Count > 0)
        {
            if (scheduler is null) notes.Add("the scheduler was not asked.");
            else
            {
                view = scheduler.Query(jobs.Where(j => j.Backend == "slurm").Select(j => j.JobId));
                notes.AddRange(view.Notes);
            }
        }
        var indices = new List<SweepIndexStatus>();
        foreach (var t in list.Tasks)
        {
            var (state, error) = ResultState(Path.Combine(dir, t.RunId));
            var job = jobs.LastOrDefault(j => j.IndexList.Contains(t.Index));
            var sched = job is not null && view.Tasks.TryGetValue((job.JobId, t.Index), out var s) ? s : null;
            indices.Add(new SweepIndexStatus(t.Index, t.Point, t.Seed, t.RunId, state, error, job, sched));
        }
        return new SweepStatusReport(list.Sweep, list.Experiment, dir, indices, jobs, notes);
    }

    /// <summary>The state of one run directory from its files and its lock.</summary>
    public static (string State, string? Error) ResultState(string runDirectory)
    {
        if (!File.Exists(Path.Combine(runDirectory, RunLayout.Manifest)))
            return (System.IO.Directory.Exists(runDirectory) && DirectoryLock.IsHeld(runDirectory) ? RunLayout.Status.Running : SweepIndexStatus.Pending, null);
        RunManifest m;
        try
        {
            m = RunManifest.Read(runDirectory);
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            return (SweepIndexStatus.Unreadable, e.Message);
        }
        if (m.Status == RunLayout.Status.Running)
            return DirectoryLock.IsHeld(runDirectory)
                ? (RunLayout.Status.Running, null)
                : (SweepIndexStatus.Crashed, "the manifest says running but no process holds the run's lock (killed without a checkpoint)");
        return (m.Status, m.Error);
    }

    /// <summary>"6 tasks: 4 completed, 1 running, 1 pending" (states in a fixed order).</summary>
    public string Counts()
    {
        string[] order = [RunLayout.Status.Completed, RunLayout.Status.Running, SweepIndexStatus.Pending, RunLayout.Status.Interrupted,
            SweepIndexStatus.Crashed, RunLayout.Status.Failed, SweepIndexStatus.Unreadable];
        var parts = Indices.GroupBy(i => i.State).OrderBy(g => Array.IndexOf(order, g.Key) is var k && k < 0 ? 99 : k)
            .Select(g => $"{g.Count()} {g.Key}");
        return $"{Indices.Count} task(s): {string.Join(", ", parts)}";
    }
}
