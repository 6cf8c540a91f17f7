namespace MoeLab.Experiments.Cluster;

/// <summary>The scheduler's view of a sweep's jobs: the state of each (job, index) it still knows,
/// and notes on what could not be asked (a tool missing, accounting disabled, a job forgotten).</summary>
public sealed record SchedulerView(IReadOnlyDictionary<(string JobId, int Index), SchedulerTaskState> Tasks, IReadOnlyList<string> Notes)
{
    public static readonly SchedulerView None = new(new Dictionary<(string, int), SchedulerTaskState>(), []);
}
