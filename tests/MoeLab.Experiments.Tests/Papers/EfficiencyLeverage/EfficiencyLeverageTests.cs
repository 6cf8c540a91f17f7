using Microsoft.Data.Analysis;
using MoeLab.Experiments.Papers.EfficiencyLeverage;
using MoeLab.Experiments.Runtime;
using MoeLab.Metrics.ScalingLaws;
using MoeLab.Models.Transformer;

namespace MoeLab.Experiments.Tests.Papers.EfficiencyLeverage;

[CollectionDefinition(nameof(EfficiencyLeverageTests), DisableParallelization = true)]
public sealed class EfficiencyLeverageCollection;

[Collection(nameof(EfficiencyLeverageTests))]
public sealed class EfficiencyLeverageTests
{
    private static readonly EfficiencyLeverageExperiment Experiment = new();

    [Fact]
    public void PresetsAreValid()
    {
        foreach (var (name, config) in Experiment.TypedPresets)
            Assert.True(Experiment.Validate(config).Count == 0, $"{name}: {string.Join("; ", Experiment.Validate(config))}");
    }

    [Fact]
    public void BadGridsAreRefusedWithTheKeyAndValue()
    {
        var cpu = EfficiencyLeverageExperiment.Cpu;
        Assert.Contains(Experiment.Validate(cpu with { Grid = cpu.Grid with { MoeArms = ["G4x16"] } }), p => p.Contains("'grid.moeArms' entry 'G4x16'"));
        Assert.Contains(Experiment.Validate(cpu with { Grid = cpu.Grid with { MoeArms = ["G8-E4"] } }), p => p.Contains("E = 4 routed experts but E_a = 8"));
        Assert.Contains(Experiment.Validate(cpu with { Grid = cpu.Grid with { Steps = [10, 20] } }), p => p.Contains("'grid.steps'"));
        Assert.Contains(Experiment.Validate(cpu with { Grid = cpu.Grid with { Widths = [32, 40, 64] } }), p => p.Contains("'grid.widths' contains 40"));
        Assert.Contains(Experiment.Validate(cpu with { Grid = cpu.Grid with { Widths = [32], Steps = [10] } }), p => p.Contains("at least 2 budgets"));
        Assert.Contains(Experiment.Validate(cpu with { Grid = cpu.Grid with { Shard = 2, Shards = 2 } }), p => p.Contains("'grid.shard' = 2"));
        Assert.Contains(Experiment.Validate(cpu with { Grid = cpu.Grid with { TuneBudget = cpu.Grid.Widths.Length } }), p => p.Contains("'grid.tuneBudget'"));
    }

    /// <summary>The FLOP count from the model description equals the decoder's own accounting for every arm
    /// of the cpu grid, and dense and MoE arms of a budget spend the same FFN FLOPs per token.</summary>
    [Fact]
    public void FlopCountMatchesTheDecodersOwnAccounting()
    {
        var c = EfficiencyLeverageExperiment.Cpu;
        const int vocabulary = 2048;
        foreach (var arm in EfficiencyLeverageExperiment.Plan(c).Where(a => !a.Tuning && a.SeedIndex == 0))
        {
            using var model = new DecoderLanguageModel(EfficiencyLeverageExperiment.ModelOptions(c, arm, vocabulary));
            var ours = TransformerFlops.Forward(EfficiencyLeverageExperiment.Describe(c, arm, vocabulary));
            double decoder = model.Cost(c.Data.SequenceLength).NonEmbedding.ForwardFlopsPerToken;
            Assert.Equal(decoder, ours.NonEmbeddingForward, 6);
            double ffn = ours.DenseFeedForward + ours.RoutedExperts + ours.SharedExperts;
            Assert.Equal(c.Model.Layers * 4.0 * arm.Width * c.Model.FeedForwardRatio * arm.Width, ffn, 6); // GELU: 4·d·d_ff per layer
        }
    }

    [Fact]
    public void PlanTunesFirstThenCoversTheGrid()
    {
        var c = EfficiencyLeverageExperiment.Cpu;
        var plan = EfficiencyLeverageExperiment.Plan(c);
        int tuning = 2 * c.Grid.LrGrid.Length;
        Assert.All(plan.Take(tuning), a => Assert.True(a.Tuning));
        int t = c.Grid.TuneBudget;
        Assert.True(t > 0, "the cpu preset tunes at a budget above the smallest");
        Assert.All(plan.Take(tuning), a => Assert.True(a.Budget == t && a.Width == c.Grid.Widths[t] && a.Steps == c.Grid.Steps[t], a.Name));
        Assert.Equal(c.Grid.Widths.Length * c.Grid.SeedsPerPoint * (1 + c.Grid.MoeArms.Length), plan.Count - tuning);
        Assert.Equal(plan.Count, plan.Select(a => a.Name).Distinct().Count());
    }

    [Fact]
    public void ShardsTogetherCoverTheGridOnce()
    {
        var c = EfficiencyLeverageExperiment.Cpu;
        var plan = EfficiencyLeverageExperiment.Plan(c);
        var seen = new List<string>();
        for (int shard = 0; shard < 3; shard++)
        {
            var sharded = c with { Grid = c.Grid with { Shards = 3, Shard = shard } };
            Assert.Empty(Experiment.Validate(sharded));
            var mine = plan.Where((a, i) => EfficiencyLeverageExperiment.InShard(sharded, a, i)).ToList();
            Assert.All(plan.Where(a => a.Tuning), a => Assert.Contains(a, mine));
            seen.AddRange(mine.Where(a => !a.Tuning).Select(a => a.Name));
        }
        Assert.Equal(plan.Where(a => !a.Tuning).Select(a => a.Name).Order(), seen.Order());
    }

    /// <summary>The analysis on made-up arm results (this checks the analysis code, not any measurement):
    /// MoE losses that the dense law reaches at 4× the compute give a measured EL of exactly 4.</summary>
    [Fact]
    public void AnalysisInvertsTheDenseLaw()
    {
        double Loss(double c) => 12 * Math.Pow(c, -0.08);
        var arms = new List<ElArmResult>();
        int b = 0;
        foreach (double c in new[] { 1e10, 3e10, 1e11 })
        {
            for (int s = 0; s < 2; s++)
            {
                arms.Add(new ElArmResult($"dense-{b}-{s}", "dense", "grid", "dense", b, 32, s, 0.01, Loss(c) * (1 + 1e-4 * s), c, 1, double.NaN, 0, 0, 1));
                arms.Add(new ElArmResult($"moe-{b}-{s}", "moe", "grid", "G2-E8", b, 32, s, 0.01, Loss(4 * c), c, 0.25, 2, 8, 2, 1));
            }
            b++;
        }
        var a = EfficiencyLeverageAnalysis.Analyze(arms, bootstrap: 20);
        Assert.Equal(0.08, a.DenseFit.Beta, 3);
        Assert.All(a.Measured, m => Assert.Equal(4, m.Leverage, 1));
        Assert.Contains(a.Claims, c => c.Claim.StartsWith("EL over 7") && c.Verdict == "not testable on CPU");
        Assert.Null(a.LawFit); // 3 distinct points cannot fit 5 coefficients
        var table = EfficiencyLeverageAnalysis.MeasuredTable(a);
        Assert.Equal(6, table.Rows.Count);
    }

    /// <summary>The claims on made-up runs (checks the analysis code only): more experts lower the loss at every
    /// (budget, seed) and EL grows with compute in every series, so both claims hold; reversing the experts'
    /// order makes the first claim fail.</summary>
    [Fact]
    public void ClaimsArePairedByBudgetAndSeed()
    {
        double Dense(double c) => 12 * Math.Pow(c, -0.08);
        List<ElArmResult> Arms(bool moreExpertsHelp, double firstBudget = 1)
        {
            var arms = new List<ElArmResult>();
            double[] budgets = [1e10, 1e11, 1e12];
            for (int b = 0; b < budgets.Length; b++)
                for (int s = 0; s < 2; s++)
                {
                    double c = budgets[b], wobble = 1 + 0.002 * (s == 0 ? 1 : -1);
                    arms.Add(new ElArmResult($"dense-{b}-{s}", "dense", "grid", "dense", b, 32, s, 0.01, Dense(c) * wobble, c, 1, double.NaN, 0, 0, 1));
                    foreach (int e in new[] { 4, 8, 16 })
                    {
                        // EL = (1 + b) × (E / 4)^(±0.3): grows with the budget; grows or shrinks with E.
                        double el = (b == 0 ? firstBudget : 1 + b) * Math.Pow(e / 4.0, moreExpertsHelp ? 0.3 : -0.3) * (1 + 0.01 * s);
                        arms.Add(new ElArmResult($"G2-E{e}-{b}-{s}", "moe", "grid", $"G2-E{e}", b, 32, s, 0.01, Dense(el * c), c, 2.0 / e, 2, e, 2, 1));
                    }
                }
            return arms;
        }
        var good = EfficiencyLeverageAnalysis.Analyze(Arms(true), bootstrap: 10).Claims;
        Assert.Equal("holds", good.Single(c => c.Claim.StartsWith("Loss falls as")).Verdict);
        Assert.Equal("holds", good.Single(c => c.Claim == "EL rises with compute").Verdict);
        var bad = EfficiencyLeverageAnalysis.Analyze(Arms(false), bootstrap: 10).Claims;
        Assert.Equal("does not hold", bad.Single(c => c.Claim.StartsWith("Loss falls as")).Verdict);
        Assert.Contains("G2 E4→E8: Δloss +", bad.Single(c => c.Claim.StartsWith("Loss falls as")).Ours);
        Assert.StartsWith("does not hold", good.Single(c => c.Claim.StartsWith("At very small compute")).Verdict);
        // EL 0.5 at the smallest budget, above 1 at the others: the law's direction, at our smallest budget only.
        var mixed = EfficiencyLeverageAnalysis.Analyze(Arms(true, firstBudget: 0.5), bootstrap: 10).Claims;
        Assert.StartsWith("holds at our smallest budgets only: median EL < 1 up to C ≈ 1.0E+010", mixed.Single(c => c.Claim.StartsWith("At very small compute")).Verdict);
    }

    [Fact]
    public void LawUnderBasesTableIsComputed()
    {
        var t = EfficiencyLeverageAnalysis.LawUnderBases();
        Assert.Equal(9, t.Rows.Count);
        var row = t.Rows.Single(r => (string)r[0] == "log10" && (string)r[1] == "log2");
        Assert.InRange((double)row[2], 8, 12);
        Assert.InRange((double)row[3], 7, 8);
    }

    [Fact]
    public void SmokeRunsEndToEndAndItsTablesAgree()
    {
        var config = EfficiencyLeverageExperiment.Smoke;
        var ctx = new InMemoryRunContext("efficiency-leverage", "smoke", 3);
        Experiment.Run(config, ctx);
        foreach (var arm in EfficiencyLeverageExperiment.Plan(config))
        {
            Assert.True(ctx.SummaryByArm.ContainsKey(arm.Name), $"no summary for {arm.Name}");
            var v = ctx.SummaryByArm[arm.Name].Values;
            Assert.InRange(v["val_loss"], 0.5, 20);
            Assert.True(v["compute"] > 0);
            Assert.Equal(3 * v["forward_flops_per_token"] * v["tokens"], v["compute"], 6);
        }
        var fits = ctx.Tables["loss_fits"];
        double alpha = (double)fits["alpha"][0], beta = (double)fits["beta"][0];
        var measured = ctx.Tables["measured_leverage"];
        Assert.True(measured.Rows.Count > 0);
        for (long r = 0; r < measured.Rows.Count; r++)
        {
            double loss = (double)measured["val_loss"][r], compute = (double)measured["compute"][r];
            double denseCompute = Math.Pow(loss / alpha, -1 / beta);
            Assert.Equal(denseCompute / compute, (double)measured["EL_measured"][r], 6);
        }
        Assert.True(ctx.Tables.ContainsKey("claims"));
        Assert.True(ctx.Tables.ContainsKey("leverage_law_fit"));
    }

    [Fact]
    public void FromSummariesReadsTheRunsSummaryRows()
    {
        var frame = new DataFrame(
            new StringDataFrameColumn("arm", ["dense-d32-s0"]), new StringDataFrameColumn("family", ["dense"]),
            new StringDataFrameColumn("kind", ["grid"]), new StringDataFrameColumn("moe_arm", ["dense"]),
            new PrimitiveDataFrameColumn<double>("val_loss", [5.5]), new PrimitiveDataFrameColumn<double>("compute", [2e10]),
            new PrimitiveDataFrameColumn<double>("budget", [0]), new PrimitiveDataFrameColumn<double>("width", [32]),
            new PrimitiveDataFrameColumn<double>("seed_index", [1]), new PrimitiveDataFrameColumn<double>("lr", [0.01]),
            new PrimitiveDataFrameColumn<double>("activation_ratio", [1]), new PrimitiveDataFrameColumn<double>("granularity", [double.NaN]),
            new PrimitiveDataFrameColumn<double>("experts", [0]), new PrimitiveDataFrameColumn<double>("active_experts", [0]),
            new PrimitiveDataFrameColumn<double>("seconds", [3]));
        var arms = EfficiencyLeverageAnalysis.FromSummaries(frame);
        Assert.Equal(new ElArmResult("dense-d32-s0", "dense", "grid", "dense", 0, 32, 1, 0.01, 5.5, 2e10, 1, double.NaN, 0, 0, 3), arms.Single());
        frame.Columns.Remove("compute");
        Assert.Contains("compute", Assert.Throws<ArgumentException>(() => EfficiencyLeverageAnalysis.FromSummaries(frame)).Message);
    }

    [Fact]
    public void CombineKeepsAnArmTwoRunsShareOnceAndRefusesOnesThatDisagree()
    {
        ElArmResult Arm(string name, double loss, double seconds) =>
            new(name, name.StartsWith("dense") ? "dense" : "moe", "grid", name.Split('-')[0], 0, 32, 0, 0.02, loss, 2e10, 1, 2, 8, 2, seconds);
        var reference = new[] { Arm("dense-d32-s0", 4.6075, 10), Arm("G2-E8-d32-s0", 4.5, 12) };
        var extension = new[] { Arm("dense-d32-s0", 4.6075, 13), Arm("G8-E32-d32-s0", 4.4, 20) }; // dense trained again: same bytes, other wall time
        var all = EfficiencyLeverageAnalysis.Combine(reference.Concat(extension));
        Assert.Equal(["dense-d32-s0", "G2-E8-d32-s0", "G8-E32-d32-s0"], all.Select(a => a.Name));

        var clash = new[] { Arm("dense-d32-s0", 4.6076, 13) };
        var e = Assert.Throws<InvalidDataException>(() => EfficiencyLeverageAnalysis.Combine(reference.Concat(clash)));
        Assert.Contains("dense-d32-s0", e.Message);
    }

    /// <summary>Runs of each G at budgets 0–2 and seeds 0–1, EL = budget factor × G factor × per-point noise.</summary>
    private static List<(double G, int Budget, int Seed, double El)> Runs(Dictionary<double, double> gFactor, Func<double, int, int, double> noise)
    {
        var runs = new List<(double, int, int, double)>();
        foreach (var (g, f) in gFactor)
            for (int b = 0; b < 3; b++)
                for (int s = 0; s < 2; s++)
                    runs.Add((g, b, s, Math.Pow(3, b) * f * noise(g, b, s)));
        return runs;
    }

    [Fact]
    public void GranularityVerdictSaysWhereTheBestGIsAndWhetherItsLeadIsResolved()
    {
        // EL grows 3× per budget for every G (an unpaired test would drown in that); G 8 leads G 2 by 10 % at every
        // point, with ±1 % noise: resolved once paired by budget and seed.
        double Jitter(double g, int b, int s) => 1 + 0.01 * Math.Sin(7 * g + 3 * b + s);
        var clear = Runs(new() { [1] = 1.0, [2] = 2.0, [8] = 2.2, [16] = 1.5 }, Jitter);
        Assert.StartsWith("best G 8 of 1/2/8/16, inside 8–12; ln EL lead over G 2 +0.0", EfficiencyLeverageAnalysis.GranularityVerdict(clear));
        // Same means, but G 8's lead flips sign between points (±30 %): not resolved.
        double Flip(double g, int b, int s) => g == 8 ? (s == 0 ? 1.3 : 0.75) : 1;
        var noisy = Runs(new() { [1] = 1.0, [2] = 2.0, [8] = 2.2, [16] = 1.5 }, Flip);
        Assert.StartsWith("best G 8 of 1/2/8/16, inside 8–12, but not resolved (ln EL lead over G 2", EfficiencyLeverageAnalysis.GranularityVerdict(noisy));
        // Best at the largest G tested, below 8, and too few granularities.
        Assert.StartsWith("best at our largest G 4", EfficiencyLeverageAnalysis.GranularityVerdict(Runs(new() { [1] = 1, [2] = 2, [4] = 5 }, Jitter)));
        Assert.StartsWith("best G 2 of 1/2/4, below 8", EfficiencyLeverageAnalysis.GranularityVerdict(Runs(new() { [1] = 1, [2] = 5, [4] = 2 }, Jitter)));
        Assert.Equal("not tested", EfficiencyLeverageAnalysis.GranularityVerdict(Runs(new() { [1] = 1, [2] = 2 }, Jitter)));
    }
}
