namespace MoeLab.Experiments.Cluster;

/// <summary>One submission of a sweep to a scheduler.</summary>
/// <param name="Backend">"slurm".</param>
/// <param name="JobId">The scheduler's job id (an array job: its tasks are JobId_index).</param>
/// <param name="Indices">The sweep indices it runs, as an array spec (0-5, 1,3,7-9).</param>
/// <param name="Script">The batch script submitted, relative to the sweep directory.</param>
/// <param name="Kind">"submit" (`moelab sweep --backend slurm`) or "resubmit" (`moelab sweep-resubmit`).</param>
public sealed record SweepJob(string Backend, string JobId, string Indices, string Script, string Kind, DateTimeOffset SubmittedAt)
{
    public IReadOnlyList<int> IndexList => ArraySpec.Parse(Indices);
}
