namespace MoeLab.Experiments.Runtime;

/// <summary>Runs a sweep locally, one run after another, under
/// results/&lt;experiment&gt;/sweep-&lt;hash&gt;/&lt;configHash8&gt;-s&lt;seed&gt;/ (see <see cref="SweepPlan"/>).
/// Every point is resolved and validated before anything runs; the sweep's task list
/// (sweep-tasks.json) is written first, then each run goes through <see cref="SweepTaskRunner"/>,
/// the same "index → run" step a cluster task takes: re-running skips completed runs, resumes
/// interrupted ones and retries failed ones from scratch. A failed run is recorded and the others
/// go on; a cancellation (Ctrl+C) interrupts the current run and leaves the rest pending. One
/// driver per sweep: a second `moelab sweep` of the same grid is refused, naming the first.</summary>
public static class SweepRunner
{
    public static SweepResult Run(IExperiment experiment, string preset, string? configFile, IReadOnlyList<string> sets,
        IReadOnlyList<GridAxis> grid, IReadOnlyList<long> seeds, RunOptions options,
        Func<string, Func<IProgressSink, RunOutcome>, RunOutcome>? wrapRun = null)
    {
        var plan = SweepPlan.Create(experiment, preset, configFile, sets, grid, seeds, options.ResultsRoot);
        using var sweepLock = DirectoryLock.Acquire(plan.Directory, "sweep");
        var tasks = plan.WriteFiles();
        var results = new List<SweepRunResult>();
        for (int i = 0; i < tasks.Count; i++)
        {
            var task = tasks[i];
            if (options.Cancellation.IsCancellationRequested)
            {
                results.Add(new SweepRunResult(task.Point, task.Seed, task.RunId, Path.Combine(plan.Directory, task.RunId), "pending", null,
                    Array.Empty<SummaryRow>(), "not started", task.Index));
                continue;
            }
            results.Add(SweepTaskRunner.Run(experiment, plan.Points[i].Config, task, plan.SweepId, plan.Directory, options, wrapRun));
        }
        return new SweepResult(plan.SweepId, plan.Directory, results);
    }
}
