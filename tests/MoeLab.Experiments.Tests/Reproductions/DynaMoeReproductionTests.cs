using System.Text.Json;
using MoeLab.Experiments.Papers.DynaMoE;
using MoeLab.Experiments.Plotting;
using MoeLab.Experiments.Reproductions;
using MoeLab.Experiments.Results;
using MoeLab.Experiments.Runtime;
using MoeLab.Experiments.Tests.Plotting;

namespace MoeLab.Experiments.Tests.Reproductions;

/// <summary>DynaMoE's declared claims and paper figures, evaluated on the reference cpu runs in
/// results/reference (what the notebook and `moelab report --results results/reference` show).</summary>
public class DynaMoeReproductionTests
{
    static string Reference(string experiment) =>
        Path.Combine(RunLayout.FindRepoRoot(AppContext.BaseDirectory)!, "results", "reference", experiment);

    [Theory]
    [InlineData("dynamoe-images", typeof(DynaMoeImagesReproduction))]
    [InlineData("dynamoe-lm", typeof(DynaMoeLmReproduction))]
    public void Claims_are_measured_and_every_figure_follows_the_house_style(string experiment, Type type)
    {
        var reproduction = PaperReproductions.For(experiment);
        Assert.IsType(type, reproduction);
        var runs = ResultSet.Load(Reference(experiment));
        var claims = PaperReproductions.EvaluateClaims(reproduction!, runs);
        Assert.Equal(reproduction!.Claims.Count, claims.Count);
        foreach (var c in claims)
        {
            Assert.True(c.Verdict != Verdict.NotTested, $"{c.Id}: not tested ({c.Note})");
            var m = Assert.Single(c.Ours);
            Assert.Equal(3, m.N);                                           // paired over the three reference seeds
            Assert.True(double.IsFinite(m.Value) && m.Spread is double s && double.IsFinite(s), $"{c.Id}: {m.Format()}");
        }
        var problems = new List<string>();
        foreach (var (figure, fig) in FigureChecks.Reproduction(reproduction, runs, problems))
            if (figure.Name != "experts-per-token" && !FigureChecks.HasSpread(fig)) problems.Add($"{figure.Name}: no error bars or band");
        Assert.Empty(problems);
    }

    [Fact]
    public void The_descending_claim_is_the_paired_difference_of_the_two_arms()
    {
        var runs = ResultSet.Load(Reference("dynamoe-images"));
        var diffs = PairedComparison.PairedDifferences(runs, "test_accuracy", "descending-batch-matched", "uniform-batch-matched");
        Assert.Equal(3, diffs.Count);
        var table = DynaMoeReport.Aggregate(runs, "accuracy");
        double Mean(string arm) => (double)table["test_accuracy.mean"][Enumerable.Range(0, (int)table.Rows.Count).Single(r => (string)table["arm"][r] == arm)]!;
        Assert.Equal(Mean("descending-batch-matched") - Mean("uniform-batch-matched"), diffs.Average(), 12);
        var claim = PaperReproductions.EvaluateClaims(PaperReproductions.For("dynamoe-images")!, runs).Single(c => c.Id == "descending-beats-uniform");
        Assert.Equal(100 * diffs.Average(), claim.Ours[0].Value, 9);
    }

    [Fact]
    public void Verdict_rule_needs_two_standard_errors()
    {
        Assert.Equal(Verdict.Reproduced, PairedComparison.Better([0.02, 0.021, 0.019], higherIsBetter: true, "", 1, "").Verdict);
        Assert.Equal(Verdict.Partly, PairedComparison.Better([0.05, -0.04, 0.02], higherIsBetter: true, "", 1, "").Verdict);
        Assert.Equal(Verdict.NotReproduced, PairedComparison.Better([-0.01, -0.02, 0.0], higherIsBetter: true, "", 1, "").Verdict);
        Assert.Equal(Verdict.Reproduced, PairedComparison.Better([-5.0, -6.0, -5.5], higherIsBetter: false, "", 1, "").Verdict);
        Assert.Equal(Verdict.Partly, PairedComparison.Better([0.03], higherIsBetter: true, "", 1, "").Verdict);   // one seed: no error
    }
}
