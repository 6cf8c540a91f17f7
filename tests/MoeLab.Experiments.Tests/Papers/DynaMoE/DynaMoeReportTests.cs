using MoeLab.Experiments.Papers.DynaMoE;

namespace MoeLab.Experiments.Tests.Papers.DynaMoE;

public sealed class DynaMoeReportTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("moelab-dynamoe-report-").FullName;
    public void Dispose() => Directory.Delete(root, true);

    private void WriteRun(string name, params (string Arm, string Kind, string Routing, string Budget, string Schedule, double Val, double Test)[] rows)
    {
        string dir = Path.Combine(root, "dynamoe-images", name);
        Directory.CreateDirectory(dir);
        var lines = new List<string> { "arm,kind,routing,schedule,budget,experts_per_layer,val_accuracy,test_accuracy,experts_per_token_mean" };
        lines.AddRange(rows.Select(r => $"{r.Arm},{r.Kind},{r.Routing},{r.Schedule},{r.Budget},8 8,{r.Val},{r.Test},2"));
        File.WriteAllLines(Path.Combine(dir, "summary.csv"), lines);
    }

    [Fact]
    public void AggregatesOverSeedsAndSelectsOnValidationNotTest()
    {
        // "descending" is best on test, "ascending" best on validation: selection must follow validation.
        WriteRun("cpu-seed0", ("dense", "Dense", "dense", "matched", "uniform", 0.80, 0.79),
            ("descending-batch-matched", "Percentile", "dynamic", "matched", "descending", 0.81, 0.90),
            ("ascending-batch-matched", "Percentile", "dynamic", "matched", "ascending", 0.85, 0.70));
        WriteRun("cpu-seed1", ("dense", "Dense", "dense", "matched", "uniform", 0.82, 0.81),
            ("descending-batch-matched", "Percentile", "dynamic", "matched", "descending", 0.80, 0.92),
            ("ascending-batch-matched", "Percentile", "dynamic", "matched", "ascending", 0.84, 0.72));
        WriteRun("smoke-seed0", ("dense", "Dense", "dense", "matched", "uniform", 0.1, 0.1));

        var runs = DynaMoeReport.FindRuns(root, "cpu-seed");
        Assert.Equal(2, runs.Count);
        var rows = DynaMoeReport.LoadSummaries(runs);
        var table = DynaMoeReport.Aggregate(rows, "accuracy");
        Assert.Equal(3, table.Rows.Count);
        Assert.Equal("dense", table["arm"][0]);
        Assert.Equal(2, table["seeds"][0]);
        Assert.Equal(0.80, (double)table["test_accuracy_mean"][0]!, 9);
        Assert.Equal(Math.Sqrt(0.0002), (double)table["test_accuracy_std"][0]!, 9);   // sample std of 0.79, 0.81

        var selected = DynaMoeReport.SelectSchedule(rows, "accuracy");
        Assert.NotNull(selected);
        Assert.Equal("ascending-batch-matched", selected.Value.Arm);
        Assert.Equal(0.71, selected.Value.TestMean, 9);
        Assert.NotNull(DynaMoeReport.ScheduleChart(rows, "accuracy"));
    }

    [Fact]
    public void MalformedSummaryIsAClearError()
    {
        string dir = Path.Combine(root, "bad");
        Directory.CreateDirectory(dir);
        File.WriteAllLines(Path.Combine(dir, "summary.csv"), ["arm,val_accuracy", "dense,0.5,0.6"]);
        var e = Assert.Throws<InvalidDataException>(() => DynaMoeReport.LoadSummaries([dir]));
        Assert.Contains("3 cells", e.Message);
    }
}

/// <summary>The reference cpu-preset runs shipped in results/reference (what the notebook reads).</summary>
public sealed class DynaMoeReferenceResultsTests
{
    private static string Root => Path.Combine(MoeLab.Experiments.Runtime.RunLayout.FindRepoRoot(AppContext.BaseDirectory)!, "results", "reference", "dynamoe-images");

    [Fact]
    public void ReferenceRunsLoadAndShowFixedVersusDynamicCounts()
    {
        var runs = DynaMoeReport.FindRuns(Root, "cpu-seed");
        Assert.Equal(3, runs.Count);
        var rows = DynaMoeReport.LoadSummaries(runs);
        var table = DynaMoeReport.Aggregate(rows, "accuracy");
        Assert.Equal(15, table.Rows.Count);
        Assert.All(table.Rows, r => Assert.Equal(3, (int)r["seeds"]));
        double Spread(string arm) => rows.Where(r => r.Arm == arm).Average(r => r.Get("experts_per_token_std"));
        Assert.Equal(0.0, Spread("uniform-token-matched"), 9);   // per-token percentile: fixed count
        Assert.Equal(0.0, Spread("uniform-top2"), 9);
        Assert.True(Spread("uniform-batch-matched") > 0.3);      // batch percentile: dynamic
        Assert.True(Spread("uniform-top-p") > 0.3);
        Assert.NotNull(DynaMoeReport.SelectSchedule(rows, "accuracy"));
        Assert.NotNull(DynaMoeReport.HistogramChart(runs[0], "uniform-batch-matched"));
    }
}
