using Microsoft.Data.Analysis;
using MoeLab.Experiments.Runtime;

namespace MoeLab.Experiments.Papers.MoeContinualLearning;

/// <summary>Reproduction of Li, Lin, Duan, Liang, Shroff, "Theory on Mixture-of-Experts in Continual
/// Learning" (ICLR 2025, arXiv 2406.16437): fig 2 (forgetting F_t and generalisation error G_t vs
/// rounds for M ∈ {1, 5, 10, 20}) and figs 4–5 (termination threshold Γ = σ0^x; termination on/off),
/// as an exact simulation of linear experts and a linear gate (no neural network).
///
/// One run = one seed. Inside it, each study loops over <c>Repetitions</c> simulation repetitions
/// whose seeds are derived from the run seed (<see cref="MoeContinualLearningStudies"/>); curves are
/// mean ± sd over those repetitions. Errors are squared norms (see
/// <see cref="MoeLab.Metrics.ContinualLearning.ContinualLearningErrors"/>).
///
/// Outputs: metrics.csv (per arm, every <c>CurveStride</c> rounds: forgetting/generalisation mean
/// and sd); summary.csv (one row per arm, label columns <c>study</c>, <c>description</c>);
/// tables <c>final_errors</c>, <c>termination_rounds</c>, <c>expert_load</c>,
/// <c>{study}_assignment_task_{arm}</c> and <c>{study}_assignment_cluster_{arm}</c> (repetition 0);
/// figures of the same.
///
/// Resume: each completed (study, repetition) is a checkpoint entry (<see cref="CheckpointRepetitionStore"/>);
/// a stopped or killed run resumes at the first repetition it had not finished, with identical
/// results (every repetition's randomness is derived from the run seed, not from the ones before).
///
/// Presets: smoke (~1 s); cpu (the paper's sizes, 50 repetitions for fig 2 and 100 for figs 4–5;
/// about 20 s on one core); paper (fig 2 with 100 repetitions, figs 4–5 with the script's 100,
/// curves at every round).
/// Command: <c>moelab run moe-continual-learning --preset cpu</c>.</summary>
public sealed class MoeContinualLearningExperiment : Experiment<MoeContinualLearningConfig>
{
    public override string Name => "moe-continual-learning";

    public override string Description =>
        "Theory on MoE in continual learning (arXiv 2406.16437): linear experts + gate with termination; " +
        "forgetting/generalisation vs number of experts (fig 2) and termination threshold (figs 4-5).";

    public static MoeContinualLearningConfig Smoke => new()
    {
        ExpertCount = new ExpertCountStudyConfig { Experts = new[] { 1, 3 }, Rounds = 200, Repetitions = 2 },
        Termination = new TerminationStudyConfig { Experts = 3, Rounds = 200, Repetitions = 2, ThresholdExponents = new[] { 1.25 } },
        CurveStride = 20,
    };

    public static MoeContinualLearningConfig Cpu => new()
    {
        ExpertCount = new ExpertCountStudyConfig { Repetitions = 50 },
        Termination = new TerminationStudyConfig { Repetitions = 100 },
        CurveStride = 10,
    };

    public static MoeContinualLearningConfig Paper => new()
    {
        ExpertCount = new ExpertCountStudyConfig { Repetitions = 100 },
        Termination = new TerminationStudyConfig { Repetitions = 100 },
        CurveStride = 1,
    };

    public override IReadOnlyDictionary<string, MoeContinualLearningConfig> TypedPresets { get; } =
        new Dictionary<string, MoeContinualLearningConfig> { ["smoke"] = Smoke, ["cpu"] = Cpu, ["paper"] = Paper };

    public override IReadOnlyList<string> Validate(MoeContinualLearningConfig config)
    {
        var errors = new List<string>();
        if (config.CurveStride < 1) errors.Add($"curveStride = {config.CurveStride}: must be ≥ 1");
        var e = config.ExpertCount;
        if (e.Enabled)
        {
            ValidatePool("expertCount.pool", e.Pool, errors);
            ValidateGating("expertCount.gating", e.Gating, errors);
            if (e.Experts is null || e.Experts.Length == 0 || e.Experts.Any(m => m < 1))
                errors.Add($"expertCount.experts = [{string.Join(", ", e.Experts ?? Array.Empty<int>())}]: need a non-empty list of integers ≥ 1");
            if (e.Rounds < 2) errors.Add($"expertCount.rounds = {e.Rounds}: must be ≥ 2");
            if (e.Repetitions < 1) errors.Add($"expertCount.repetitions = {e.Repetitions}: must be ≥ 1");
        }
        var t = config.Termination;
        if (t.Enabled)
        {
            ValidatePool("termination.pool", t.Pool, errors);
            ValidateGating("termination.gating", t.Gating, errors);
            if (t.Experts < 1) errors.Add($"termination.experts = {t.Experts}: must be ≥ 1");
            if (t.Rounds < 2) errors.Add($"termination.rounds = {t.Rounds}: must be ≥ 2");
            if (t.Repetitions < 1) errors.Add($"termination.repetitions = {t.Repetitions}: must be ≥ 1");
            if ((t.ThresholdExponents is null || t.ThresholdExponents.Length == 0) && !t.IncludeNoTermination)
                errors.Add("termination.thresholdExponents is empty and termination.includeNoTermination is false: no arm to run");
        }
        if (!e.Enabled && !t.Enabled) errors.Add("expertCount.enabled and termination.enabled are both false: nothing to run");
        return errors;
    }

    private static void ValidatePool(string key, TaskPoolConfig p, List<string> errors)
    {
        if (p.SupportDimension < 1 || p.SupportDimension > p.Dimension)
            errors.Add($"{key}.supportDimension = {p.SupportDimension}: must be in [1, dimension = {p.Dimension}]");
        if (p.Dimension > 2 * p.SupportDimension)
            errors.Add($"{key}.dimension = {p.Dimension}: the generator copies rows j−r into rows j ≥ r, so dimension must be ≤ 2·supportDimension = {2 * p.SupportDimension}");
        if (p.Samples < 1 || p.Samples >= p.Dimension)
            errors.Add($"{key}.samples = {p.Samples}: must be in [1, dimension − 1 = {p.Dimension - 1}] (overparameterised)");
        if (p.Clusters < 1 || p.Tasks < p.Clusters)
            errors.Add($"{key}.clusters = {p.Clusters}, tasks = {p.Tasks}: need 1 ≤ clusters ≤ tasks");
        if (!(p.Sigma0 > 0)) errors.Add($"{key}.sigma0 = {p.Sigma0}: must be > 0");
        if (p.ClusterPerturbation < 0) errors.Add($"{key}.clusterPerturbation = {p.ClusterPerturbation}: must be ≥ 0");
        if (!(p.SignalNorm > 0)) errors.Add($"{key}.signalNorm = {p.SignalNorm}: must be > 0");
        if (!(p.NoiseColumnNorm > 0)) errors.Add($"{key}.noiseColumnNorm = {p.NoiseColumnNorm}: must be > 0");
    }

    private static void ValidateGating(string key, GatingConfig g, List<string> errors)
    {
        if (!(g.LearningRate > 0)) errors.Add($"{key}.learningRate = {g.LearningRate}: must be > 0");
        if (g.NoiseBound < 0) errors.Add($"{key}.noiseBound = {g.NoiseBound}: must be ≥ 0");
        if (g.AuxiliaryWeight < 0) errors.Add($"{key}.auxiliaryWeight = {g.AuxiliaryWeight}: must be ≥ 0");
        if (g.MinimumRoundsBase < 0 || g.MinimumRoundsPerExpert < 0)
            errors.Add($"{key}.minimumRoundsBase = {g.MinimumRoundsBase}, minimumRoundsPerExpert = {g.MinimumRoundsPerExpert}: must be ≥ 0");
    }

    public override void Run(MoeContinualLearningConfig config, RunContext context)
    {
        var problems = Validate(config);
        if (problems.Count > 0) throw new ArgumentException("invalid moe-continual-learning config: " + string.Join("; ", problems));
        var studies = new List<StudyResult>();
        void Progress(string phase, long step, long total) => context.ReportProgress(phase, step, total);
        var store = new CheckpointRepetitionStore(context.Checkpoints);
        if (config.ExpertCount.Enabled)
            studies.Add(MoeContinualLearningStudies.RunExpertCount(config.ExpertCount, context.Seed, Progress, context.Cancellation, store));
        if (config.Termination.Enabled)
            studies.Add(MoeContinualLearningStudies.RunTermination(config.Termination, context.Seed, Progress, context.Cancellation, store));
        if (store.Loaded > 0) context.Log($"resumed: {store.Loaded} repetition(s) read from the checkpoint, {store.Saved} computed");
        foreach (var study in studies)
        {
            context.Log($"{study.Study}: {study.Arms.Count} arms × {study.Pools.Count} repetitions × {study.Arms[0].Rounds} rounds in {study.Elapsed.TotalSeconds:F1} s");
            Record(study, config.CurveStride, context);
        }
        context.SaveTable("final_errors", FinalErrors(studies));
        context.SaveTable("termination_rounds", TerminationRoundsTable(studies));
        context.SaveTable("expert_load", LoadTable(studies));
        context.SaveFigure("termination_rounds", MoeContinualLearningFigures.TerminationRounds(studies));
    }

    private static void Record(StudyResult study, int stride, RunContext context)
    {
        foreach (var arm in study.Arms)
        {
            var fMean = arm.MeanCurve(r => r.Forgetting); var fStd = arm.StdCurve(r => r.Forgetting);
            var gMean = arm.MeanCurve(r => r.Generalisation); var gStd = arm.StdCurve(r => r.Generalisation);
            bool spread = arm.Runs.Count >= 2; // one repetition has no spread: log means only
            foreach (int t in MoeContinualLearningFigures.CurveRounds(arm.Rounds, stride))
                context.LogMetrics(t + 1, spread
                    ? new Dictionary<string, double>
                    {
                        ["forgetting_mean"] = fMean[t], ["forgetting_std"] = fStd[t],
                        ["generalisation_mean"] = gMean[t], ["generalisation_std"] = gStd[t],
                    }
                    : new Dictionary<string, double> { ["forgetting_mean"] = fMean[t], ["generalisation_mean"] = gMean[t] },
                    ArmKey(study, arm));
            var summary = MoeContinualLearningStudies.Summarise(arm, study.Pools);
            context.LogSummary(ArmKey(study, arm), summary,
                new Dictionary<string, string> { ["study"] = study.Study, ["description"] = arm.Description });
            context.Log($"{ArmKey(study, arm)}: F_T = {HumanNumber.Format(summary["final_forgetting_mean"], "G4")} ± {HumanNumber.Format(summary["final_forgetting_std"], "G3")}, " +
                        $"G_T = {HumanNumber.Format(summary["final_generalisation_mean"], "G4")} ± {HumanNumber.Format(summary["final_generalisation_std"], "G3")}, " +
                        $"terminated {summary["termination_rate"]:P0} (median round {HumanNumber.Format(summary["termination_round_median"], "G4")}), " +
                        $"late cluster purity {summary["late_cluster_purity_mean"]:F3}");

            if (arm.Experts > 1)
            {
                var pool = study.Pools[0];
                var run = arm.Runs[0];
                var tasks = Enumerable.Range(0, pool.Count).Select(n => $"task {n} (c{pool.ClusterOf(n)})").ToArray();
                var clusters = Enumerable.Range(0, pool.Config.Clusters).Select(c => $"cluster {c}").ToArray();
                var byCluster = ByCluster(run.Assignment, pool);
                string name = $"{study.Study}_assignment_task_{Safe(arm.Arm)}";
                // Every arm's tables; heatmap figures (≈3.6 MB each, plotly.js embedded) only for the
                // arms worth looking at: every M, and in the termination study Γ = σ0^1.25 and no termination.
                bool figure = study.Study != "termination" || !arm.Gating.Terminate || arm.Gating.ThresholdExponent == 1.25;
                context.SaveTable(name, CountTable(run.Assignment, tasks));
                if (figure)
                    context.SaveFigure(name, MoeContinualLearningFigures.Heatmap(run.Assignment, tasks,
                        $"{study.Study}, {arm.Arm}: routing by task (repetition 0)", "task (its cluster)"));
                name = $"{study.Study}_assignment_cluster_{Safe(arm.Arm)}";
                context.SaveTable(name, CountTable(byCluster, clusters));
                if (figure)
                    context.SaveFigure(name, MoeContinualLearningFigures.Heatmap(byCluster, clusters,
                        $"{study.Study}, {arm.Arm}: routing by cluster (repetition 0)", "task cluster"));
            }
        }
        context.SaveFigure($"{study.Study}_forgetting", MoeContinualLearningFigures.Curves(study, r => r.Forgetting, "forgetting F_t", stride));
        context.SaveFigure($"{study.Study}_generalisation", MoeContinualLearningFigures.Curves(study, r => r.Generalisation, "generalisation error G_t", stride));
        if (study.Arms.Any(a => a.Experts > 1))
            context.SaveFigure($"{study.Study}_expert_load", MoeContinualLearningFigures.Loads(study));
    }

    /// <summary>Arm key used in metrics.csv / summary.csv, e.g. "M=5" or "x=1.25" or "no-termination".</summary>
    public static string ArmKey(StudyResult study, ArmResult arm) => arm.Arm;

    private static string Safe(string arm) => arm.Replace('=', '-').Replace(' ', '_');

    public static long[,] ByCluster(long[,] assignment, TaskPool pool)
    {
        int m = assignment.GetLength(0);
        var counts = new long[m, pool.Config.Clusters];
        for (int e = 0; e < m; e++)
            for (int n = 0; n < pool.Count; n++) counts[e, pool.ClusterOf(n)] += assignment[e, n];
        return counts;
    }

    private static DataFrame CountTable(long[,] counts, string[] columns)
    {
        int m = counts.GetLength(0);
        var frame = new DataFrame(new Int32DataFrameColumn("expert", Enumerable.Range(0, m)));
        for (int c = 0; c < columns.Length; c++)
            frame.Columns.Add(new Int64DataFrameColumn(columns[c], Enumerable.Range(0, m).Select(e => counts[e, c])));
        return frame;
    }

    /// <summary>summary.csv's content as a DataFrame: one row per arm (study, arm, then every
    /// number of <see cref="MoeContinualLearningStudies.Summarise"/>). For notebooks.</summary>
    public static DataFrame SummaryTable(IEnumerable<StudyResult> studies)
    {
        var rows = studies.SelectMany(s => s.Arms.Select(a => (s.Study, a.Arm, Values: MoeContinualLearningStudies.Summarise(a, s.Pools)))).ToList();
        var frame = new DataFrame(
            new StringDataFrameColumn("study", rows.Select(r => r.Study)),
            new StringDataFrameColumn("arm", rows.Select(r => r.Arm)));
        if (rows.Count == 0) return frame;
        foreach (string key in rows[0].Values.Keys)
            frame.Columns.Add(new DoubleDataFrameColumn(key, rows.Select(r => r.Values[key])));
        return frame;
    }

    private static DataFrame FinalErrors(IEnumerable<StudyResult> studies)
    {
        var rows = studies.SelectMany(s => s.Arms.SelectMany(a => a.Runs.Select((r, k) => (s.Study, a.Arm, k, r)))).ToList();
        return new DataFrame(
            new StringDataFrameColumn("study", rows.Select(x => x.Study)),
            new StringDataFrameColumn("arm", rows.Select(x => x.Arm)),
            new Int32DataFrameColumn("repetition", rows.Select(x => x.k)),
            new DoubleDataFrameColumn("final_forgetting", rows.Select(x => x.r.Forgetting[^1])),
            new DoubleDataFrameColumn("final_generalisation", rows.Select(x => x.r.Generalisation[^1])));
    }

    private static DataFrame TerminationRoundsTable(IEnumerable<StudyResult> studies)
    {
        var rows = studies.SelectMany(s => s.Arms.Where(a => a.Gating.Terminate)
            .SelectMany(a => a.Runs.Select((r, k) => (s.Study, a.Arm, k, r.TerminationRound)))).ToList();
        return new DataFrame(
            new StringDataFrameColumn("study", rows.Select(x => x.Study)),
            new StringDataFrameColumn("arm", rows.Select(x => x.Arm)),
            new Int32DataFrameColumn("repetition", rows.Select(x => x.k)),
            new Int32DataFrameColumn("termination_round", rows.Select(x => x.TerminationRound)));
    }

    private static DataFrame LoadTable(IEnumerable<StudyResult> studies)
    {
        var rows = studies.SelectMany(s => s.Arms.SelectMany(a =>
            MoeContinualLearningFigures.SortedLoadShares(a).Select((share, i) => (s.Study, a.Arm, Rank: i + 1, share)))).ToList();
        return new DataFrame(
            new StringDataFrameColumn("study", rows.Select(x => x.Study)),
            new StringDataFrameColumn("arm", rows.Select(x => x.Arm)),
            new Int32DataFrameColumn("load_rank", rows.Select(x => x.Rank)),
            new DoubleDataFrameColumn("mean_share", rows.Select(x => x.share)));
    }
}

/// <summary>Completed repetitions as checkpoint entries <c>cl-&lt;study&gt;-rep-&lt;k&gt;</c> (binary,
/// exact doubles).</summary>
public sealed class CheckpointRepetitionStore(ICheckpointStore checkpoints) : IRepetitionStore
{
    public int Loaded { get; private set; }
    public int Saved { get; private set; }

    private static string Entry(string study, int repetition) => $"cl-{study}-rep-{repetition:D5}";

    public IReadOnlyList<SimulationResult>? Load(string study, int repetition)
    {
        string name = Entry(study, repetition);
        if (!checkpoints.Exists(name)) return null;
        Loaded++;
        return SimulationResultCodec.Read(checkpoints.PathOf(name));
    }

    public void Save(string study, int repetition, IReadOnlyList<SimulationResult> arms)
    {
        checkpoints.SaveFile(Entry(study, repetition), path => SimulationResultCodec.Write(path, arms));
        Saved++;
    }
}
