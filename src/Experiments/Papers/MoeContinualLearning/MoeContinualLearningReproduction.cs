using System.Globalization;
using Microsoft.Data.Analysis;
using MoeLab.Experiments.Plotting;
using MoeLab.Experiments.Reproductions;
using MoeLab.Experiments.Results;
using MoeLab.Metrics.Statistics;
using Plotly.NET;

namespace MoeLab.Experiments.Papers.MoeContinualLearning;

/// <summary>The paper's claims and figures for <c>moe-continual-learning</c>, computed from saved runs
/// (<see cref="ResultSet"/>): the report, <c>moelab figures</c>, <c>moelab table</c> and the notebook
/// use this one declaration. Runs are first narrowed to one config (<see cref="PaperReproductions.MainConfigRuns"/>);
/// per-repetition numbers (tables final_errors, termination_rounds) are pooled over its runs, so n counts
/// repetitions. Figures draw the run with the lowest seed of that config.</summary>
public sealed class MoeContinualLearningReproduction : IPaperReproduction
{
    public string Paper => "Theory on Mixture-of-Experts in Continual Learning (Li et al., ICLR 2025, arXiv 2406.16437)";

    public IReadOnlyList<string> Experiments { get; } = new[] { "moe-continual-learning" };

    public IReadOnlyList<string>? SummaryColumns { get; } = new[]
    {
        "final_forgetting_mean", "final_generalisation_mean", "termination_rate", "termination_round_median",
        "late_cluster_purity_mean", "max_load_share_mean", "experts_used_mean",
    };

    public IReadOnlyList<ClaimDeclaration> Claims { get; } = new[]
    {
        new ClaimDeclaration("moe-generalises-better",
            "With more than one expert, MoE generalises better than a single expert (M = 1).",
            "qualitative: fig. 2 curves of G_t, MoE (M = 5, 10, 20) below M = 1; no number in the text",
            "final generalisation error G_T per arm of the fig. 2 study (squared norm), mean ± sd over repetitions. " +
            "Reproduced when every M > 1 arm's mean is below M = 1's; partly when some are.",
            r => CompareWithSingleExpert(r, "final_generalisation")),
        new ClaimDeclaration("moe-forgets-less",
            "With more than one expert, MoE forgets less than a single expert.",
            "qualitative: fig. 2 curves of F_t; no number in the text",
            "final forgetting F_T per arm of the fig. 2 study, mean ± sd over repetitions; same rule as above.",
            r => CompareWithSingleExpert(r, "final_forgetting")),
        new ClaimDeclaration("experts-specialise",
            "Each expert specialises in one cluster of tasks.",
            "theory (each expert's tasks come from one cluster after enough rounds); no number",
            "late cluster purity (share of the last quarter of rounds whose expert's most frequent cluster is the task's), " +
            "per M > 1 arm. Reproduced when every arm ≥ 0.9; partly when every arm ≥ 0.6.",
            Specialisation),
        new ClaimDeclaration("termination-needed",
            "The gate must stop training: without termination the errors grow again.",
            "qualitative: figs. 4–5, the arm without termination ends with higher error",
            "final G_T of the no-termination arm vs each terminated arm (figs. 4–5 study). " +
            "Reproduced when it is higher than every terminated arm's mean; partly when higher than some.",
            TerminationNeeded),
        new ClaimDeclaration("gamma-decides",
            "The threshold Γ = σ0^x decides when the gate freezes (figs. 4–5 vary x).",
            "figs. 4–5: x ∈ {0.75, 1, 1.25, 1.5} drawn as distinct curves",
            "share of repetitions (all terminated arms of the figs. 4–5 study pooled) whose gate froze exactly at the forced " +
            "minimum round, i.e. the Γ rule was already met and the forced minimum decided. " +
            "Not reproduced when ≥ 90 % (Γ never decides); partly when ≥ 50 %.",
            GammaDecides),
        new ClaimDeclaration("more-experts-later",
            "More experts need more rounds before the gate can freeze.",
            "theory: T1 = ⌈M/η⌉ grows with M; fig. 2 setting",
            "median round at which the gate froze per M > 1 arm of the fig. 2 study (repetitions that froze), and the share that froze. " +
            "Reproduced when the median increases with M.",
            MoreExpertsLater),
        new ClaimDeclaration("mnist-cnn",
            "The findings carry over to CNN experts on MNIST (fig. 3).",
            "fig. 3",
            "–",
            _ => ClaimOutcome.NotTested("figure 3 (MNIST, CNN experts) is not implemented in this lab.")),
    };

    public IReadOnlyList<PaperFigure> Figures { get; } = new[]
    {
        new PaperFigure("fig2_generalisation", "Fig. 2 analogue: generalisation error G_t vs round for M ∈ {1, …} experts (mean ± 1 sd over repetitions).",
            r => Curve(r, "expert-count", "generalisation", "generalisation error G_t")),
        new PaperFigure("fig2_forgetting", "Fig. 2 analogue: forgetting F_t vs round.",
            r => Curve(r, "expert-count", "forgetting", "forgetting F_t")),
        new PaperFigure("fig2_specialisation", "Routing by task cluster in repetition 0 of the fig. 2 study (smallest M that can give every cluster its own expert): experts specialise when each row has one bright cell.",
            SpecialisationHeatmap),
        new PaperFigure("fig4_5_generalisation", "Figs. 4–5 analogue: G_t with termination at Γ = σ0^x and without termination.",
            r => Curve(r, "termination", "generalisation", "generalisation error G_t")),
        new PaperFigure("fig4_5_forgetting", "Figs. 4–5 analogue: F_t with and without termination.",
            r => Curve(r, "termination", "forgetting", "forgetting F_t")),
        new PaperFigure("termination_outcome", "When the gate froze: at the forced minimum round, later (the Γ rule decided), or never — per arm, all repetitions of the chosen runs.",
            r => MoeContinualLearningFigures.TerminationOutcome(TerminationSamples(MainRuns(r)))),
    };

    // ------------------------------------------------------------ data from runs

    static ResultSet MainRuns(ResultSet runs) => PaperReproductions.MainConfigRuns(runs) ?? throw new ArgumentException("no completed moe-continual-learning run");

    /// <summary>Per-repetition final errors of every run of the main config: (study, arm, value).</summary>
    static List<(string Study, string Arm, double Value)> FinalErrors(ResultSet main, string column)
    {
        var rows = new List<(string, string, double)>();
        foreach (var (_, t) in PaperReproductions.Tables(main, "final_errors"))
        {
            var study = FrameColumns.Get(t, "study"); var arm = FrameColumns.Get(t, "arm"); var v = FrameColumns.Get(t, column);
            for (long i = 0; i < t.Rows.Count; i++)
                if (FrameColumns.AsDouble(v[i]) is double d) rows.Add((FrameColumns.Format(study[i]), FrameColumns.Format(arm[i]), d));
        }
        if (rows.Count == 0) throw new ArgumentException("no tables/final_errors.csv in the chosen runs");
        return rows;
    }

    static Measurement Measure(string label, IReadOnlyList<double> values)
    {
        var s = SeedAggregation.Compute(values);
        return new Measurement(s.Mean ?? double.NaN, s.Std, s.N, "repetitions", label);
    }

    static int ExpertsOf(string arm) => arm.StartsWith("M=", StringComparison.Ordinal) && int.TryParse(arm[2..], NumberStyles.Integer, CultureInfo.InvariantCulture, out int m) ? m : -1;

    static ClaimOutcome CompareWithSingleExpert(ResultSet runs, string column)
    {
        var rows = FinalErrors(MainRuns(runs), column).Where(r => r.Study == "expert-count").ToList();
        var byArm = rows.GroupBy(r => r.Arm).OrderBy(g => ExpertsOf(g.Key)).ToDictionary(g => g.Key, g => g.Select(r => r.Value).ToList());
        if (!byArm.ContainsKey("M=1")) return ClaimOutcome.NotTested("the runs have no M = 1 arm");
        var moe = byArm.Keys.Where(a => ExpertsOf(a) > 1).ToList();
        if (moe.Count == 0) return ClaimOutcome.NotTested("the runs have no arm with M > 1");
        var measures = byArm.Select(kv => Measure(kv.Key, kv.Value)).ToList();
        double single = measures.Single(m => m.Label == "M=1").Value;
        int below = measures.Count(m => m.Label != "M=1" && m.Value < single);
        var verdict = below == moe.Count ? Verdict.Reproduced : below > 0 ? Verdict.Partly : Verdict.NotReproduced;
        return new ClaimOutcome(measures, verdict, $"{below} of {moe.Count} MoE arm(s) below M = 1.");
    }

    static ClaimOutcome Specialisation(ResultSet runs)
    {
        var main = MainRuns(runs);
        var s = main.Summaries;
        var arm = FrameColumns.Get(s, "arm"); var study = FrameColumns.Get(s, "study");
        var mean = FrameColumns.Get(s, "late_cluster_purity_mean"); var std = FrameColumns.Get(s, "late_cluster_purity_std"); var reps = FrameColumns.Get(s, "repetitions");
        var groups = new Dictionary<string, List<(double Mean, double Std, int N)>>();
        for (long i = 0; i < s.Rows.Count; i++)
        {
            string a = FrameColumns.Format(arm[i]);
            if (FrameColumns.Format(study[i]) != "expert-count" || ExpertsOf(a) <= 1) continue;
            if (!groups.TryGetValue(a, out var list)) groups[a] = list = new();
            list.Add((FrameColumns.AsDouble(mean[i]) ?? double.NaN, FrameColumns.AsDouble(std[i]) ?? double.NaN, (int)(FrameColumns.AsDouble(reps[i]) ?? 0)));
        }
        if (groups.Count == 0) return ClaimOutcome.NotTested("the runs have no fig. 2 arm with M > 1");
        var measures = groups.OrderBy(g => ExpertsOf(g.Key)).Select(g => Pool(g.Key, g.Value)).ToList();
        var verdict = measures.All(m => m.Value >= 0.9) ? Verdict.Reproduced : measures.All(m => m.Value >= 0.6) ? Verdict.Partly : Verdict.NotReproduced;
        return new ClaimOutcome(measures, verdict);
    }

    /// <summary>Pools per-run means and sds (each over n repetitions) into one mean and sd over all repetitions.</summary>
    static Measurement Pool(string label, IReadOnlyList<(double Mean, double Std, int N)> parts)
    {
        int n = parts.Sum(p => p.N);
        double mean = parts.Sum(p => p.Mean * p.N) / n;
        double ss = parts.Sum(p => (p.N - 1) * (double.IsNaN(p.Std) ? 0 : p.Std * p.Std) + p.N * (p.Mean - mean) * (p.Mean - mean));
        return new Measurement(mean, n >= 2 ? Math.Sqrt(ss / (n - 1)) : null, n, "repetitions", label);
    }

    static ClaimOutcome TerminationNeeded(ResultSet runs)
    {
        var rows = FinalErrors(MainRuns(runs), "final_generalisation").Where(r => r.Study == "termination").ToList();
        var byArm = rows.GroupBy(r => r.Arm).ToDictionary(g => g.Key, g => g.Select(r => r.Value).ToList());
        if (!byArm.ContainsKey("no-termination")) return ClaimOutcome.NotTested("the runs have no no-termination arm (termination.includeNoTermination = false?)");
        var terminated = byArm.Keys.Where(a => a != "no-termination").OrderBy(a => a, StringComparer.Ordinal).ToList();
        if (terminated.Count == 0) return ClaimOutcome.NotTested("the runs have no terminated arm");
        var none = Measure("no termination", byArm["no-termination"]);
        var others = terminated.Select(a => Measure(a, byArm[a])).ToList();
        int higher = others.Count(m => none.Value > m.Value);
        var verdict = higher == others.Count ? Verdict.Reproduced : higher > 0 ? Verdict.Partly : Verdict.NotReproduced;
        return new ClaimOutcome(others.Prepend(none).ToList(), verdict, $"no-termination G_T higher than {higher} of {others.Count} terminated arm(s).");
    }

    /// <summary>Termination rounds per arm that can terminate, with each arm's forced minimum round
    /// (from the run's config), pooled over the runs of the main config.</summary>
    public static IReadOnlyList<MoeContinualLearningFigures.TerminationSample> TerminationSamples(ResultSet main)
    {
        var pooled = new Dictionary<string, (List<int?> Rounds, int Minimum, string Study, string Arm)>();
        var order = new List<string>();
        foreach (var (run, t) in PaperReproductions.Tables(main, "termination_rounds"))
        {
            var study = FrameColumns.Get(t, "study"); var arm = FrameColumns.Get(t, "arm"); var round = FrameColumns.Get(t, "termination_round");
            for (long i = 0; i < t.Rows.Count; i++)
            {
                string s = FrameColumns.Format(study[i]), a = FrameColumns.Format(arm[i]);
                int experts = s == "expert-count" ? ExpertsOf(a) : ConfigInt(run, "termination.experts");
                if (experts <= 1) continue; // one expert: nothing to route, the gate is irrelevant
                string prefix = s == "expert-count" ? "expertCount" : "termination";
                int minimum = ConfigInt(run, $"{prefix}.gating.minimumRoundsBase") + ConfigInt(run, $"{prefix}.gating.minimumRoundsPerExpert") * experts;
                string key = MoeContinualLearningFigures.Label(s, a);
                if (!pooled.TryGetValue(key, out var p)) { pooled[key] = p = (new List<int?>(), minimum, s, a); order.Add(key); }
                else if (p.Minimum != minimum) throw new ArgumentException($"{key}: runs disagree on the forced minimum round ({p.Minimum} vs {minimum})");
                double? v = FrameColumns.AsDouble(round[i]);
                p.Rounds.Add(v is double d ? (int)d : null);
            }
        }
        if (order.Count == 0) throw new ArgumentException("no tables/termination_rounds.csv rows in the chosen runs");
        return order.Select(k => new MoeContinualLearningFigures.TerminationSample(k, pooled[k].Rounds, pooled[k].Minimum)).ToList();
    }

    static int ConfigInt(RunRecord run, string key)
    {
        if (!run.Config.TryGetValue(key, out var v) || v is null)
            throw new KeyNotFoundException($"{run.ManifestPath}: config has no '{key}'");
        return Convert.ToInt32(v, CultureInfo.InvariantCulture);
    }

    static ClaimOutcome GammaDecides(ResultSet runs)
    {
        var samples = TerminationSamples(MainRuns(runs)).Where(s => s.Arm.StartsWith("figs. 4–5", StringComparison.Ordinal)).ToList();
        if (samples.Count == 0) return ClaimOutcome.NotTested("the runs have no terminated arm of the figs. 4–5 study");
        int total = samples.Sum(s => s.Rounds.Count);
        int atMinimum = samples.Sum(s => s.Rounds.Count(r => r == s.MinimumRound));
        int later = samples.Sum(s => s.Rounds.Count(r => r > s.MinimumRound));
        double share = atMinimum / (double)total;
        var perArm = samples.Select(s => new Measurement(s.Rounds.Count(r => r == s.MinimumRound) / (double)s.Rounds.Count, null, s.Rounds.Count,
            "repetitions", MoeContinualLearningFigures.ArmOfLabel(s.Arm), Unit: "%")).ToList();
        var verdict = share >= 0.9 ? Verdict.NotReproduced : share >= 0.5 ? Verdict.Partly : Verdict.Reproduced;
        string minimum = string.Join(", ", samples.Select(s => s.MinimumRound).Distinct());
        return new ClaimOutcome(perArm.Prepend(new Measurement(share, null, total, "repetitions", "all arms", Unit: "%")).ToList(), verdict,
            $"froze at the forced minimum round {minimum} (0-based): {atMinimum} of {total}; later: {later}; never: {total - atMinimum - later}.");
    }

    static ClaimOutcome MoreExpertsLater(ResultSet runs)
    {
        var samples = TerminationSamples(MainRuns(runs)).Where(s => s.Arm.StartsWith("fig. 2", StringComparison.Ordinal))
            .Select(s => (M: ExpertsOf(MoeContinualLearningFigures.ArmOfLabel(s.Arm)), s)).Where(x => x.M > 1).OrderBy(x => x.M).ToList();
        if (samples.Count < 2) return ClaimOutcome.NotTested("needs at least two fig. 2 arms with M > 1");
        var measures = samples.Select(x =>
        {
            var froze = x.s.Rounds.Where(r => r.HasValue).Select(r => (double)r!.Value).ToList();
            return new Measurement(froze.Count == 0 ? double.NaN : SampleStatistics.Median(froze), null, froze.Count,
                $"of {x.s.Rounds.Count} repetitions froze ({Rounding.Percent(froze.Count / (double)x.s.Rounds.Count)})", $"M={x.M} median round");
        }).ToList();
        bool increasing = measures.Zip(measures.Skip(1), (a, b) => b.Value > a.Value).All(v => v);
        return new ClaimOutcome(measures, increasing ? Verdict.Reproduced : Verdict.NotReproduced,
            increasing ? "median freezing round increases with M." : "median freezing round does not increase with M.");
    }

    // ------------------------------------------------------------ figures from runs

    /// <summary>Curves of one study (forgetting or generalisation) from metrics.csv of the main config's
    /// run with the lowest seed; null when that run has no such study.</summary>
    public static GenericChart? Curve(ResultSet runs, string study, string metric, string title)
    {
        var main = MainRuns(runs);
        var run = main.Records.OrderBy(r => r.Seed ?? long.MaxValue).First();
        var arms = ArmsOf(main, run, study);
        if (arms.Count == 0) return null;
        var h = main.History;
        var runId = FrameColumns.Get(h, "run_id"); var arm = FrameColumns.Get(h, "arm"); var name = FrameColumns.Get(h, "metric");
        var step = FrameColumns.Get(h, "step"); var value = FrameColumns.Get(h, "value");
        var series = new List<BandSeries>();
        foreach (var (a, _) in arms)
        {
            var mean = new SortedDictionary<long, double>(); var sd = new Dictionary<long, double>();
            for (long i = 0; i < h.Rows.Count; i++)
            {
                if ((string?)runId[i] != run.RunId || (string?)arm[i] != a) continue;
                string m = (string)name[i]!;
                long t = Convert.ToInt64(step[i], CultureInfo.InvariantCulture);
                if (m == metric + "_mean") mean[t] = FrameColumns.AsDouble(value[i]) ?? double.NaN;
                else if (m == metric + "_std") sd[t] = FrameColumns.AsDouble(value[i]) ?? double.NaN;
            }
            if (mean.Count == 0) continue;
            series.Add(new BandSeries(a, mean.Keys.Select(k => (double)k).ToList(), mean.Values.ToList(),
                sd.Count == 0 ? null : mean.Keys.Select(k => sd.TryGetValue(k, out double d) ? d : double.NaN).ToList()));
        }
        if (series.Count == 0) return null;
        int reps = arms.Min(x => x.Repetitions);
        return MoeContinualLearningFigures.CurveChart(study, series, title, reps, $" (seed {run.Seed})");
    }

    /// <summary>Arms of one study in one run, in summary order, with their repetitions.</summary>
    static List<(string Arm, int Repetitions)> ArmsOf(ResultSet main, RunRecord run, string study)
    {
        var s = main.Summaries;
        var runId = FrameColumns.Get(s, "run_id"); var arm = FrameColumns.Get(s, "arm"); var st = FrameColumns.Get(s, "study"); var reps = FrameColumns.Get(s, "repetitions");
        var list = new List<(string, int)>();
        for (long i = 0; i < s.Rows.Count; i++)
            if ((string?)runId[i] == run.RunId && FrameColumns.Format(st[i]) == study)
                list.Add((FrameColumns.Format(arm[i]), (int)(FrameColumns.AsDouble(reps[i]) ?? 0)));
        return list;
    }

    /// <summary>The cluster-routing heatmap of the fig. 2 study's smallest M ≥ clusters (repetition 0,
    /// lowest seed), from its saved table; null when the run has none.</summary>
    public static GenericChart? SpecialisationHeatmap(ResultSet runs)
    {
        var main = MainRuns(runs);
        var run = main.Records.OrderBy(r => r.Seed ?? long.MaxValue).First();
        int clusters = run.Config.TryGetValue("expertCount.pool.clusters", out var c) && c is not null ? Convert.ToInt32(c, CultureInfo.InvariantCulture) : 3;
        var arm = ArmsOf(main, run, "expert-count").Select(a => a.Arm).Where(a => ExpertsOf(a) >= clusters).OrderBy(ExpertsOf).FirstOrDefault();
        if (arm is null) return null;
        string path = Path.Combine(run.TablesDirectory, $"expert-count_assignment_cluster_{arm.Replace('=', '-')}.csv");
        if (!File.Exists(path)) return null;
        DataFrame t = FrameIO.LoadCsv(path);
        var expert = FrameColumns.Get(t, "expert");
        var cols = t.Columns.Where(col => col.Name != "expert").ToList();
        var z = Enumerable.Range(0, (int)t.Rows.Count).Select(r => (IReadOnlyList<double>)cols.Select(col => FrameColumns.AsDouble(col[r]) ?? double.NaN).ToList()).ToList();
        return Charts.Heatmap(z, Enumerable.Range(0, (int)t.Rows.Count).Select(r => $"expert {FrameColumns.Format(expert[r])}").ToList(),
            cols.Select(col => col.Name).ToList(), $"Fig. 2 setting, {arm}: rounds routed to each expert by task cluster (repetition 0, seed {run.Seed})",
            "expert", "task cluster", colorTitle: "rounds routed");
    }
}
