using MoeLab.Experiments.Runtime;
using MoeLab.Metrics.Statistics;

namespace MoeLab.Experiments.Papers.MoeContinualLearning;

/// <summary>One arm of a study (e.g. M = 5, or Γ = σ0^1.25) over all repetitions.</summary>
public sealed record ArmResult(string Arm, string Description, int Experts, GatingConfig Gating,
    IReadOnlyList<SimulationResult> Runs)
{
    public int Rounds => Runs[0].Forgetting.Length;

    public double[] MeanCurve(Func<SimulationResult, double[]> curve) =>
        Enumerable.Range(0, Rounds).Select(t => Runs.Average(r => curve(r)[t])).ToArray();

    /// <summary>Sample standard deviation across repetitions (NaN for one repetition: no spread exists).</summary>
    public double[] StdCurve(Func<SimulationResult, double[]> curve) =>
        Enumerable.Range(0, Rounds).Select(t => SampleStatistics.Std(Runs.Select(r => curve(r)[t]))).ToArray();

    public double[] FinalForgetting => Runs.Select(r => r.Forgetting[^1]).ToArray();
    public double[] FinalGeneralisation => Runs.Select(r => r.Generalisation[^1]).ToArray();
}

/// <summary>A study: arms × repetitions, with each repetition's pool (shared by all arms).</summary>
public sealed record StudyResult(string Study, IReadOnlyList<TaskPool> Pools, IReadOnlyList<ArmResult> Arms, TimeSpan Elapsed);

/// <summary>Where a study keeps the results of completed repetitions, so that an interrupted run
/// resumes at the next repetition instead of from zero (the experiment backs it by the run's
/// checkpoint). Null results = not done yet.</summary>
public interface IRepetitionStore
{
    IReadOnlyList<SimulationResult>? Load(string study, int repetition);
    void Save(string study, int repetition, IReadOnlyList<SimulationResult> arms);
}

/// <summary>The two studies as pure functions of (config, seed): no files, no logging.
/// Repetition k of a study uses seeds derived from (run seed, study id, k): one stream for the pool,
/// one for the task sequence and features (identical for every arm), one for the routing noise.
/// Because of that a repetition's results do not depend on the ones before it, and a run can
/// resume from the repetitions it had finished (<see cref="IRepetitionStore"/>).</summary>
public static class MoeContinualLearningStudies
{
    public const long ExpertCountStudyId = 1, TerminationStudyId = 2;

    /// <summary>Fig 2: one arm per M.</summary>
    public static StudyResult RunExpertCount(ExpertCountStudyConfig config, long seed,
        Action<string, long, long>? progress = null, CancellationToken cancellation = default, IRepetitionStore? store = null)
    {
        var arms = config.Experts.Select(m => (Arm: $"M={m}", Description: m == 1 ? "single expert" : $"MoE with {m} experts",
            Experts: m, Gating: config.Gating)).ToList();
        return Run("expert-count", ExpertCountStudyId, config.Pool, config.Rounds, config.Repetitions, arms, seed, progress, cancellation, store);
    }

    /// <summary>Figs 4–5: one arm per threshold exponent, plus "no-termination".</summary>
    public static StudyResult RunTermination(TerminationStudyConfig config, long seed,
        Action<string, long, long>? progress = null, CancellationToken cancellation = default, IRepetitionStore? store = null)
    {
        var arms = config.ThresholdExponents.Select(x => (Arm: $"x={x:0.##}",
            Description: $"termination, Γ = σ0^{x:0.##}", Experts: config.Experts,
            Gating: config.Gating with { Terminate = true, ThresholdExponent = x })).ToList();
        if (config.IncludeNoTermination)
            arms.Add(("no-termination", "gate trains every round", config.Experts, config.Gating with { Terminate = false }));
        return Run("termination", TerminationStudyId, config.Pool, config.Rounds, config.Repetitions, arms, seed, progress, cancellation, store);
    }

    private static StudyResult Run(string study, long studyId, TaskPoolConfig poolConfig, int rounds, int repetitions,
        IReadOnlyList<(string Arm, string Description, int Experts, GatingConfig Gating)> arms, long seed,
        Action<string, long, long>? progress, CancellationToken cancellation, IRepetitionStore? store)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var pools = new List<TaskPool>();
        var runs = arms.Select(_ => new List<SimulationResult>()).ToArray();
        long total = (long)repetitions * arms.Count, done = 0;
        for (int rep = 0; rep < repetitions; rep++)
        {
            var pool = TaskPool.Generate(poolConfig, RunRandom.Mersenne(seed, studyId, rep, 0));
            pools.Add(pool);
            if (store?.Load(study, rep) is { } saved && saved.Count == arms.Count)
            {
                for (int a = 0; a < arms.Count; a++) runs[a].Add(saved[a]);
                done += arms.Count;
                progress?.Invoke(study, done, total);
                continue;
            }
            var repetition = new List<SimulationResult>();
            for (int a = 0; a < arms.Count; a++)
            {
                cancellation.ThrowIfCancellationRequested();
                repetition.Add(MoeContinualLearningRun.Simulate(pool, arms[a].Gating, arms[a].Experts, rounds,
                    RunRandom.Mersenne(seed, studyId, rep, 1), RunRandom.Mersenne(seed, studyId, rep, 2), cancellation));
                runs[a].Add(repetition[^1]);
                progress?.Invoke(study, ++done, total);
            }
            store?.Save(study, rep, repetition);
        }
        var results = arms.Select((a, i) => new ArmResult(a.Arm, a.Description, a.Experts, a.Gating, runs[i])).ToList();
        return new StudyResult(study, pools, results, watch.Elapsed);
    }

    /// <summary>Summary numbers of one arm (one row of summary.csv).</summary>
    public static Dictionary<string, double> Summarise(ArmResult arm, IReadOnlyList<TaskPool> pools)
    {
        int rounds = arm.Rounds, lateFrom = rounds - rounds / 4;
        var term = arm.Runs.Where(r => r.TerminationRound.HasValue).Select(r => (double)r.TerminationRound!.Value).ToArray();
        var purity = arm.Runs.Select((r, k) => r.ClusterPurity(pools[k])).ToArray();
        var latePurity = arm.Runs.Select((r, k) => r.ClusterPurity(pools[k], lateFrom)).ToArray();
        var lateSwitches = arm.Runs.Select((r, k) => (double)r.ClusterSwitches(pools[k], lateFrom)).ToArray();
        var maxShare = arm.Runs.Select(r => r.Load.Max() / (double)rounds).ToArray();
        var lastSwitch = arm.Runs.Select((r, k) => (double)r.LastClusterSwitchRound(pools[k])).ToArray();
        var gMean = arm.MeanCurve(r => r.Generalisation);
        var usedExperts = arm.Runs.Select(r => (double)r.Load.Count(l => l > 0)).ToArray();
        return new Dictionary<string, double>
        {
            ["experts"] = arm.Experts,
            ["rounds"] = rounds,
            ["repetitions"] = arm.Runs.Count,
            ["final_forgetting_mean"] = SampleStatistics.Mean(arm.FinalForgetting),
            ["final_forgetting_std"] = SampleStatistics.Std(arm.FinalForgetting),
            ["final_generalisation_mean"] = SampleStatistics.Mean(arm.FinalGeneralisation),
            ["final_generalisation_std"] = SampleStatistics.Std(arm.FinalGeneralisation),
            ["final_forgetting_median"] = SampleStatistics.Median(arm.FinalForgetting),
            ["final_generalisation_median"] = SampleStatistics.Median(arm.FinalGeneralisation),
            ["generalisation_mean_at_quarter"] = gMean[rounds / 4 - 1 < 0 ? 0 : rounds / 4 - 1],
            ["generalisation_mean_at_half"] = gMean[rounds / 2 - 1 < 0 ? 0 : rounds / 2 - 1],
            ["termination_rate"] = arm.Runs.Count(r => r.TerminationRound.HasValue) / (double)arm.Runs.Count,
            ["flagged_share_at_end_mean"] = arm.Runs.Average(r => r.FlaggedAtEnd / (double)arm.Experts),
            ["termination_round_mean"] = term.Length == 0 ? double.NaN : term.Average(),
            ["termination_round_std"] = term.Length == 0 ? double.NaN : SampleStatistics.Std(term),
            ["termination_round_median"] = SampleStatistics.Median(term),
            ["cluster_purity_mean"] = purity.Average(),
            ["late_cluster_purity_mean"] = latePurity.Average(),
            ["late_cluster_purity_std"] = SampleStatistics.Std(latePurity),
            ["late_cluster_switches_mean"] = lateSwitches.Average(),
            ["last_cluster_switch_round_mean"] = lastSwitch.Average(),
            ["last_cluster_switch_round_median"] = SampleStatistics.Median(lastSwitch),
            ["max_load_share_mean"] = maxShare.Average(),
            ["experts_used_mean"] = usedExperts.Average(),
        };
    }
}
