namespace MoeLab.Experiments.Runtime;

/// <summary>"Index → run", the one piece local sweeps and cluster tasks share. Under the run
/// directory's lock (taken first, held until the run ends, so two processes never both decide to
/// run the same index): a completed run is skipped, an interrupted or crashed one (manifest says
/// running, nobody holds its lock) is resumed from its checkpoint, a failed one is cleared and run
/// again from scratch, a missing one is run. A run that another process holds is left alone
/// ("skipped (live elsewhere)", status running).</summary>
public static class SweepTaskRunner
{
    /// <summary>Runs one task of a planned sweep (config resolved by the caller).</summary>
    /// <param name="wrapRun">Wraps the run (a console progress bar); gets a label and the run body.</param>
    public static SweepRunResult Run(IExperiment experiment, ResolvedConfig config, SweepTask task, string sweepId, string sweepDirectory,
        RunOptions options, Func<string, Func<IProgressSink, RunOutcome>, RunOutcome>? wrapRun = null)
    {
        wrapRun ??= (_, body) => body(options.Progress);
        string runDir = Path.Combine(sweepDirectory, task.RunId);
        DirectoryLock runLock;
        try
        {
            runLock = DirectoryLock.Acquire(runDir, "run");
        }
        catch (DirectoryInUseException e)
        {
            // Someone resumed this run by hand, or another task (a requeued one, a local sweep) runs it.
            return new SweepRunResult(task.Point, task.Seed, task.RunId, runDir, RunLayout.Status.Running, e.Message,
                Array.Empty<SummaryRow>(), "skipped (live elsewhere)", task.Index);
        }
        using (runLock)
        {
            string? status = File.Exists(Path.Combine(runDir, RunLayout.Manifest)) ? RunManifest.Read(runDir).Status : null;
            if (status == RunLayout.Status.Completed)
                return new SweepRunResult(task.Point, task.Seed, task.RunId, runDir, status, null, RunRecorder.ReadSummary(runDir), "skipped", task.Index);
            string action = status switch
            {
                null => "ran",
                RunLayout.Status.Failed => "retried",
                _ => "resumed",
            };
            if (action != "resumed") ClearRunDirectory(runDir);
            var outcome = wrapRun($"{task.Point} seed {task.Seed}", progress =>
            {
                var o = options with { Progress = progress };
                return action == "resumed"
                    ? ExperimentRunner.Resume(runDir, o, runLock)
                    : ExperimentRunner.Run(experiment, config, task.Seed, o, runDir, sweepId, runLock);
            });
            return new SweepRunResult(task.Point, task.Seed, task.RunId, runDir, outcome.Status, outcome.Error, outcome.Summary, action, task.Index);
        }
    }

    /// <summary>Runs index <paramref name="index"/> of the sweep in <paramref name="sweepDirectory"/>
    /// (read from its <see cref="SweepTaskList"/>; the experiment from the registry).</summary>
    /// <exception cref="ConfigException">bad index, unknown experiment or a stored config that no longer matches.</exception>
    public static SweepRunResult RunIndex(string sweepDirectory, int index, RunOptions options,
        Func<string, Func<IProgressSink, RunOutcome>, RunOutcome>? wrapRun = null)
    {
        string dir = Path.GetFullPath(sweepDirectory);
        var list = SweepTaskList.Read(dir);
        var task = list.Get(index);
        var experiment = ExperimentRegistry.Get(list.Experiment);
        var config = task.Resolve(experiment, SweepTaskList.PathIn(dir));
        return Run(experiment, config, task, list.Sweep, dir, options, wrapRun);
    }

    /// <summary>Empties a failed or half-created run directory before it is run again; the caller
    /// holds its lock, so a live writer is never pulled from under.</summary>
    private static void ClearRunDirectory(string runDir)
    {
        foreach (string entry in Directory.EnumerateFileSystemEntries(runDir))
        {
            string name = Path.GetFileName(entry);
            if (name is DirectoryLock.LockFile or DirectoryLock.OwnerFile) continue;
            if (Directory.Exists(entry)) Directory.Delete(entry, recursive: true);
            else File.Delete(entry);
        }
    }
}
