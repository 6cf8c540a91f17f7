namespace MoeLab.Experiments.Cluster;

/// <summary>What a submission did (or, with --dry-run, would do).</summary>
/// <param name="JobId">The array job's id; null for a dry run or when nothing needed submitting.</param>
/// <param name="Indices">The sweep indices submitted (empty: nothing to do).</param>
/// <param name="Script">The batch script (empty when nothing needed submitting).</param>
/// <param name="ScriptPath">Where the script was saved in the sweep directory (null for a dry run).</param>
/// <param name="LeftAlone">Indices not submitted, each with the reason (completed, running, still queued).</param>
public sealed record SlurmSubmission(string SweepId, string SweepDirectory, string? JobId, IReadOnlyList<int> Indices, string Script,
    string? ScriptPath, IReadOnlyList<(int Index, string Why)> LeftAlone);
