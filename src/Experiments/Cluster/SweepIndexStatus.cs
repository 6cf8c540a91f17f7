using MoeLab.Experiments.Runtime;

namespace MoeLab.Experiments.Cluster;

/// <summary>One index of a sweep as `moelab sweep-status` sees it.</summary>
/// <param name="State">From the results layout: completed, failed, interrupted, running (its run lock
/// is held by a live process), crashed (the manifest says running but nobody holds the lock),
/// pending (no run yet) or unreadable (a manifest that cannot be read; see <paramref name="Error"/>).</param>
/// <param name="Job">The newest recorded job that runs this index, or null.</param>
/// <param name="Scheduler">What the scheduler says about this index in <paramref name="Job"/>, or null when it does not know.</param>
public sealed record SweepIndexStatus(int Index, string Point, long Seed, string RunId, string State, string? Error,
    SweepJob? Job, SchedulerTaskState? Scheduler)
{
    public const string Crashed = "crashed";
    public const string Pending = "pending";
    public const string Unreadable = "unreadable";

    /// <summary>True for what `moelab sweep-resubmit` submits again: failed, interrupted, crashed or
    /// never run, and not queued or running in the scheduler any more.</summary>
    public bool NeedsResubmit =>
        State is RunLayout.Status.Failed or RunLayout.Status.Interrupted or Crashed or Pending && Scheduler?.IsActive != true;
}
