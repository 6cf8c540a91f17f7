namespace MoeLab.Experiments.Runtime;

/// <summary>What a local sweep invocation did: one result per run it was asked for, in plan order.</summary>
public sealed record SweepResult(string SweepId, string Directory, IReadOnlyList<SweepRunResult> Runs);
