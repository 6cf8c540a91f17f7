using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using MoeLab.Models.Runtime;

namespace MoeLab.Experiments.Runtime;

/// <summary>Where and how runs execute.</summary>
public sealed record RunOptions
{
    /// <summary>Results root (default <see cref="RunLayout.DefaultResultsRoot"/>).</summary>
    public string ResultsRoot { get; init; } = RunLayout.DefaultResultsRoot();

    /// <summary>auto | cpu | cuda | cuda:N.</summary>
    public string Device { get; init; } = "auto";

    public CancellationToken Cancellation { get; init; }

    /// <summary>What stopped the run when <see cref="Cancellation"/> fires (e.g. "SIGTERM"), for
    /// the status line; null when unknown.</summary>
    public Func<string?>? StopReason { get; init; }

    public IProgressSink Progress { get; init; } = NullProgressSink.Instance;
}

/// <summary>What happened to one run.</summary>
public sealed record RunOutcome(string RunId, string RunDirectory, long Seed, string Status, string? Error,
    IReadOnlyList<SummaryRow> Summary)
{
    public bool Completed => Status == RunLayout.Status.Completed;
}

/// <summary>Runs one seed of an experiment into a run directory and records how it ended: the
/// experiment's exceptions never escape; they become status failed (NaN/Inf: which metric and
/// step) or interrupted (cancellation), with everything logged so far kept.</summary>
public static class ExperimentRunner
{
    /// <summary>A fresh run. <paramref name="runDirectory"/> defaults to
    /// results/&lt;experiment&gt;/&lt;yyyyMMdd-HHmmss&gt;-&lt;configHash8&gt;-s&lt;seed&gt;.
    /// <paramref name="heldLock"/>: the lock of <paramref name="runDirectory"/> when the caller holds
    /// it already (the run takes it over and releases it at the end).</summary>
    public static RunOutcome Run(IExperiment experiment, ResolvedConfig config, long seed, RunOptions options,
        string? runDirectory = null, string? sweepId = null, DirectoryLock? heldLock = null)
    {
        if (heldLock is not null && runDirectory is null)
            throw new ArgumentException("A held run lock needs its run directory.", nameof(heldLock));
        var device = TorchDevice.Resolve(options.Device);
        string runId = runDirectory is null
            ? $"{DateTime.UtcNow:yyyyMMdd-HHmmss}-{config.Hash[..8]}-s{seed}"
            : Path.GetFileName(Path.TrimEndingDirectorySeparator(runDirectory));
        var manifest = new RunManifest
        {
            Experiment = experiment.Name,
            RunId = runId,
            Preset = config.Preset,
            Seed = seed,
            Overrides = config.Overrides,
            Config = JsonNode.Parse(config.Json)!,
            ConfigHash = config.Hash,
            GitCommit = GitInfo.CurrentCommit(),
            Device = device.ToString(),
            Packages = RunManifest.PackageVersions(),
            StartedAt = DateTimeOffset.UtcNow,
            Status = RunLayout.Status.Running,
            Sweep = sweepId,
            Numerics = DeterministicNumerics.Current,
            Allocator = Cluster.MoelabInvocation.DescribeAllocator(),
        };
        // A given directory is used as it is; an automatic name takes the first free one of
        // <runId>, <runId>-2, <runId>-3, ... (a name another process takes between our check and
        // our lock counts as taken).
        RunRecorder recorder;
        for (int i = 1; ; i++)
        {
            string dir = runDirectory ?? Path.Combine(options.ResultsRoot, experiment.Name, i == 1 ? runId : $"{runId}-{i}");
            if (runDirectory is null && Directory.Exists(dir)) continue;
            try
            {
                recorder = RunRecorder.Create(dir, manifest with { RunId = Path.GetFileName(dir) }, device, options.Cancellation, options.Progress, heldLock);
                break;
            }
            catch (IOException) when (runDirectory is null && i < 100 && Directory.Exists(dir))
            {
            }
        }
        recorder.Log($"run {recorder.Manifest.RunId}: {experiment.Name} preset {config.Preset}, seed {seed}, device {device}" +
                     (config.Overrides.Count > 0 ? $", overrides: {string.Join(" ", config.Overrides)}" : ""));
        recorder.Log($"numerics: {manifest.Numerics}");
        return Execute(experiment, config.Config, recorder, options);
    }

    /// <summary>Continues an interrupted (or crashed) run from its checkpoint, with the config and
    /// seed stored in its manifest. A completed run is an error. <paramref name="heldLock"/>: as for
    /// <see cref="Run"/>.</summary>
    /// <exception cref="DirectoryInUseException">the run is live in another process.</exception>
    public static RunOutcome Resume(string runDirectory, RunOptions options, DirectoryLock? heldLock = null)
    {
        if (heldLock is null && DirectoryLock.IsHeld(runDirectory))
            throw new DirectoryInUseException(Path.GetFullPath(runDirectory), "run", DirectoryLock.ReadOwner(runDirectory));
        var m = RunManifest.Read(runDirectory);
        if (m.Status == RunLayout.Status.Completed)
            throw new ConfigException($"Run '{runDirectory}' is already completed; nothing to resume.");
        var experiment = ExperimentRegistry.Get(m.Experiment);
        object config = ConfigBinder.FromJson(experiment, m.Config.ToJsonString());
        var device = TorchDevice.Resolve(options.Device);
        var recorder = RunRecorder.Resume(runDirectory, device, options.Cancellation, options.Progress, heldLock);
        return Execute(experiment, config, recorder, options);
    }

    private static RunOutcome Execute(IExperiment experiment, object config, RunRecorder recorder, RunOptions options)
    {
        using var _ = recorder;
        string status;
        string? error = null;
        try
        {
            TorchDevice.Seed(recorder.Seed);
            experiment.Run(config, recorder);
            status = RunLayout.Status.Completed;
        }
        catch (OperationCanceledException) when (recorder.Cancellation.IsCancellationRequested)
        {
            status = RunLayout.Status.Interrupted;
            string by = options.StopReason?.Invoke() is { } reason ? $"stopped by {reason}" : "stopped before the end";
            error = $"{by}; continue with `moelab run --resume {recorder.RunDirectory}`";
        }
        catch (NonFiniteMetricException e)
        {
            status = RunLayout.Status.Failed;
            error = e.Message;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            status = RunLayout.Status.Failed;
            error = $"{e.GetType().Name}: {e.Message}";
            recorder.LogToFile("exception: " + e);
        }
        recorder.Finish(status, error);
        return new RunOutcome(recorder.Manifest.RunId, recorder.RunDirectory, recorder.Seed, status, error, recorder.Summary);
    }
}
