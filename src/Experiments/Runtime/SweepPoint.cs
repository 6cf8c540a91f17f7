namespace MoeLab.Experiments.Runtime;

/// <summary>One run a sweep invocation asks for: a grid point with one seed, resolved.</summary>
/// <param name="Label">The grid point, e.g. "model.experts=4 train.lr=0.001" ("(base)" for an empty grid).</param>
/// <param name="RunId">&lt;configHash8&gt;-s&lt;seed&gt;: the run directory's name inside the sweep directory.</param>
public sealed record SweepPoint(string Label, ResolvedConfig Config, long Seed, string RunId);
