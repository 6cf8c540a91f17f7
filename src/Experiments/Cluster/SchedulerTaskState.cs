namespace MoeLab.Experiments.Cluster;

/// <summary>What the scheduler says about one array task: its state (PENDING, RUNNING, COMPLETED,
/// CANCELLED, FAILED, TIMEOUT, ...), the reason it gives (why pending), and which tool said so.</summary>
public sealed record SchedulerTaskState(string JobId, int Index, string State, string? Reason, string Source)
{
    private static readonly HashSet<string> Active = new(StringComparer.OrdinalIgnoreCase)
    {
        "PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING",
        "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT",
    };

    /// <summary>True while the task is queued, running or about to run again (then it will run its
    /// index itself: resubmitting it would only queue a duplicate).</summary>
    public bool IsActive => Active.Contains(State.Split(' ')[0]);

    public override string ToString() =>
        $"{JobId}_{Index} {State}" + (Reason is { Length: > 0 } r && r != "None" ? $" ({r})" : "");
}
