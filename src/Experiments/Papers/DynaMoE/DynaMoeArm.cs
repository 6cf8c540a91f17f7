using MoeLab.Models.Schedules;
using MoeLab.Models.Routing;

namespace MoeLab.Experiments.Papers.DynaMoE;

/// <summary>How an arm's feed-forward layers route.</summary>
public enum ArmKind
{
    /// <summary>Dense MLP: one FFN per layer with k·d_ff hidden units (same active parameters as top-k).</summary>
    Dense,
    /// <summary>Fixed top-k with Switch load balancing (the paper's uniform baseline).</summary>
    TopK,
    /// <summary>DynaMoE's percentile routing (T, noise, τ; per-token or batch-wide threshold).</summary>
    Percentile,
    /// <summary>Top-p routing with balance + entropy losses (Huang et al. 2024).</summary>
    TopP,
}

/// <summary>One arm of a DynaMoE run: a routing rule on a capacity schedule.</summary>
/// <param name="Name">label in summaries, e.g. "descending-batch-matched".</param>
/// <param name="Schedule">schedule name (uniform for dense/top-k/top-p).</param>
/// <param name="BudgetMode">"matched" or "published" (uniform is both).</param>
/// <param name="PercentileMode">threshold mode of percentile arms; null otherwise.</param>
/// <param name="ExpertsPerLayer">N_l per layer (empty for the dense arm).</param>
public sealed record DynaMoeArm(string Name, ArmKind Kind, string Schedule, string BudgetMode,
    PercentileMode? PercentileMode, int[] ExpertsPerLayer)
{
    /// <summary>"fixed" for dense/top-k and for per-token percentile (whose count is fixed by
    /// construction, see this folder's README), "dynamic" for batch percentile and top-p.</summary>
    public string RoutingFamily => Kind switch
    {
        ArmKind.Dense => "dense",
        ArmKind.TopK => "fixed",
        ArmKind.Percentile when PercentileMode == Models.Routing.PercentileMode.PerToken => "fixed (per-token percentile)",
        _ => "dynamic",
    };

    /// <summary>The capacity schedule of an arm: <paramref name="budget"/> "published" (the formulas'
    /// counts as they are; totals differ by schedule) or "matched" (rescaled to the uniform total L·N̄).</summary>
    public static CapacitySchedule CapacityScheduleOf(string schedule, string budget, DynaMoeModelConfig model) => new()
    {
        Shape = CapacitySchedule.ParseShape(schedule),
        Layers = model.Layers,
        MinExperts = model.MinExperts,
        MaxExperts = model.MaxExperts,
        MeanExperts = model.MeanExperts,
        WaveAmplitude = model.WaveAmplitude,
        WaveFrequency = model.WaveFrequency,
        BudgetMatched = budget switch
        {
            "matched" => true,
            "published" => false,
            _ => throw new ArgumentException($"budget mode '{budget}' is not one of: matched, published."),
        },
    };

    /// <summary>The arms a config asks for, in a stable order. Uniform with budget "published" is the
    /// same model as "matched" and is trained once (named "-matched").</summary>
    public static IReadOnlyList<DynaMoeArm> Enumerate(DynaMoeModelConfig model, DynaMoeArmsConfig arms)
    {
        var list = new List<DynaMoeArm>();
        int[] uniform = CapacityScheduleOf("uniform", "matched", model).ExpertsPerLayer();
        if (arms.Dense) list.Add(new("dense", ArmKind.Dense, "uniform", "matched", null, []));
        if (arms.UniformTopK) list.Add(new($"uniform-top{model.TopK}", ArmKind.TopK, "uniform", "matched", null, uniform));
        foreach (string modeName in arms.PercentileModes)
        {
            var mode = ParseMode(modeName);
            foreach (string budget in arms.BudgetModes)
            {
                if (budget is not ("matched" or "published"))
                    throw new ArgumentException($"Arms.BudgetModes: '{budget}' is not one of: matched, published.");
                foreach (string schedule in arms.Schedules)
                {
                    if (schedule == "uniform" && budget == "published" && arms.BudgetModes.Contains("matched")) continue;
                    list.Add(new($"{schedule}-{modeName}-{budget}", ArmKind.Percentile, schedule, budget, mode,
                        CapacityScheduleOf(schedule, budget, model).ExpertsPerLayer()));
                }
            }
        }
        if (arms.UniformPerTokenPercentile && !arms.PercentileModes.Contains("token"))
            list.Add(new("uniform-token-matched", ArmKind.Percentile, "uniform", "matched", Models.Routing.PercentileMode.PerToken, uniform));
        if (arms.TopP) list.Add(new("uniform-top-p", ArmKind.TopP, "uniform", "matched", null, uniform));
        return list;
    }

    public static PercentileMode ParseMode(string name) => name switch
    {
        "batch" => Models.Routing.PercentileMode.Batch,
        "token" => Models.Routing.PercentileMode.PerToken,
        _ => throw new ArgumentException($"Arms.PercentileModes: '{name}' is not one of: batch, token."),
    };
}
