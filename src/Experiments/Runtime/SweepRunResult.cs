namespace MoeLab.Experiments.Runtime;

/// <summary>One run of a sweep and how it went.</summary>
/// <param name="Point">The grid point, e.g. "model.experts=4 train.lr=0.001" ("(base)" for an empty grid).</param>
/// <param name="Status">completed / failed / interrupted / running, or "pending" when the sweep was stopped first.</param>
/// <param name="Action">What this invocation did: ran, resumed, skipped (already completed), retried (failed before),
/// skipped (live elsewhere), or not started.</param>
/// <param name="Index">The run's index in the sweep's task list (sweep-tasks.json).</param>
public sealed record SweepRunResult(string Point, long Seed, string RunId, string RunDirectory, string Status, string? Error,
    IReadOnlyList<SummaryRow> Summary, string Action, int Index = -1);
