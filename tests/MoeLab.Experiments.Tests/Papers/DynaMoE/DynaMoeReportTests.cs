using System.Globalization;
using MoeLab.Experiments.Papers.DynaMoE;
using MoeLab.Experiments.Results;
using MoeLab.Experiments.Tests.Results;

namespace MoeLab.Experiments.Tests.Papers.DynaMoE;

public sealed class DynaMoeReportTests : IDisposable
{
    private readonly FakeRuns fake = new();
    public void Dispose() => fake.Dispose();

    private void WriteRun(string runId, long seed, string preset, params (string Arm, string Kind, string Routing, string Budget, string Schedule, double Val, double Test)[] rows)
    {
        string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        string summary = "arm,kind,routing,schedule,budget,experts_per_layer,val_accuracy,test_accuracy,experts_per_token_mean\n" +
            string.Concat(rows.Select(r => $"{r.Arm},{r.Kind},{r.Routing},{r.Schedule},{r.Budget},8 8,{F(r.Val)},{F(r.Test)},2\n"));
        fake.WriteRun("dynamoe-images", runId, seed, new { model = new { width = 8 } }, summaryCsv: summary, preset: preset);
    }

    [Fact]
    public void AggregatesOverSeedsInArmOrderAndSelectsOnMeanValidationNotTest()
    {
        // "descending" is best on test, "ascending" best on mean validation: selection must follow validation.
        // Per seed, seed 1 alone would pick descending (0.86 > 0.84): the rule is the mean over seeds.
        WriteRun("cpu-seed0", 0, "cpu", ("dense", "Dense", "dense", "matched", "uniform", 0.80, 0.79),
            ("descending-batch-matched", "Percentile", "dynamic", "matched", "descending", 0.81, 0.90),
            ("ascending-batch-matched", "Percentile", "dynamic", "matched", "ascending", 0.87, 0.70));
        WriteRun("cpu-seed1", 1, "cpu", ("dense", "Dense", "dense", "matched", "uniform", 0.82, 0.81),
            ("descending-batch-matched", "Percentile", "dynamic", "matched", "descending", 0.86, 0.92),
            ("ascending-batch-matched", "Percentile", "dynamic", "matched", "ascending", 0.84, 0.72));

        var results = ResultSet.Load(fake.Root);
        var table = DynaMoeReport.Aggregate(results, "accuracy");
        Assert.Equal(3, table.Rows.Count);
        Assert.Equal(["dense", "descending-batch-matched", "ascending-batch-matched"],
            Enumerable.Range(0, 3).Select(r => (string)table["arm"][r]));           // the order the arms ran in
        Assert.Equal(2L, table["n"][0]);
        Assert.Equal(0.80, (double)table["test_accuracy.mean"][0]!, 9);
        Assert.Equal(Math.Sqrt(0.0002), (double)table["test_accuracy.std"][0]!, 9);   // sample std of 0.79, 0.81

        var selected = DynaMoeReport.SelectSchedule(results, "accuracy");
        Assert.NotNull(selected);
        Assert.Equal("ascending-batch-matched", selected.Arm);
        Assert.Equal(0.855, selected.ValidationMean, 9);
        Assert.Equal(0.71, selected.TestMean, 9);
        Assert.Equal(2, selected.Seeds);
        Assert.NotNull(DynaMoeReport.ScheduleChart(results, "accuracy"));
    }

    [Fact]
    public void OneSeedHasNoSpread()
    {
        WriteRun("cpu-seed0", 0, "cpu", ("descending-batch-matched", "Percentile", "dynamic", "matched", "descending", 0.81, 0.90));
        var selected = DynaMoeReport.SelectSchedule(ResultSet.Load(fake.Root), "accuracy");
        Assert.NotNull(selected);
        Assert.Equal(1, selected.Seeds);
        Assert.True(double.IsNaN(selected.TestStd));                                  // shown "± –", never "± 0"
    }

    [Fact]
    public void NoDynamicArmMeansNoSelection()
    {
        WriteRun("cpu-seed0", 0, "cpu", ("dense", "Dense", "dense", "matched", "uniform", 0.80, 0.79));
        Assert.Null(DynaMoeReport.SelectSchedule(ResultSet.Load(fake.Root), "accuracy"));
    }
}

/// <summary>The reference cpu-preset runs shipped in results/reference (what the notebook reads): real
/// run folders written by `moelab run`, read through the runtime's reader.</summary>
public sealed class DynaMoeReferenceResultsTests
{
    private static string Root(string experiment) =>
        Path.Combine(MoeLab.Experiments.Runtime.RunLayout.FindRepoRoot(AppContext.BaseDirectory)!, "results", "reference", experiment);

    [Fact]
    public void ImageReferenceRunsLoadAndShowFixedVersusDynamicCounts()
    {
        var results = ResultSet.Load(Root("dynamoe-images"));
        Assert.Empty(results.Skipped);
        Assert.Equal(3, results.Records.Count(r => r.IsCompleted));
        var table = DynaMoeReport.Aggregate(results, "accuracy");
        Assert.Equal(15, table.Rows.Count);
        Assert.All(Enumerable.Range(0, 15), r => Assert.Equal(3L, table["n"][r]));
        double Spread(string arm) => (double)table["experts_per_token_std.mean"][Enumerable.Range(0, 15).Single(r => (string)table["arm"][r] == arm)]!;
        Assert.Equal(0.0, Spread("uniform-token-matched"), 9);   // per-token percentile: fixed count
        Assert.Equal(0.0, Spread("uniform-top2"), 9);
        Assert.True(Spread("uniform-batch-matched") > 0.3);      // batch percentile: dynamic
        Assert.True(Spread("uniform-top-p") > 0.3);
        Assert.NotNull(DynaMoeReport.SelectSchedule(results, "accuracy"));
        Assert.NotNull(DynaMoeReport.HistogramChart(results.Records[0].Directory, "uniform-batch-matched"));
    }

    [Fact]
    public void LmReferenceRunsLoad()
    {
        var results = ResultSet.Load(Root("dynamoe-lm"));
        Assert.Empty(results.Skipped);
        Assert.Equal(3, results.Records.Count(r => r.IsCompleted));
        var choice = DynaMoeReport.SelectSchedule(results, "perplexity");
        Assert.NotNull(choice);
        Assert.Equal(3, choice.Seeds);
        Assert.True(choice.TestMean > 1);
    }
}
