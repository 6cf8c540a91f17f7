using Microsoft.Data.Analysis;
using MoeLab.Experiments.Results;
using MoeLab.Experiments.Runtime;

namespace MoeLab.Experiments.Tests.Results;

public class ResultSetTests
{
    static object? Cell(DataFrame f, long row, string col) => FrameColumns.Get(f, col)[row];

    static long RowWhere(DataFrame f, params (string Col, object Value)[] where)
    {
        for (long r = 0; r < f.Rows.Count; r++)
            if (where.All(w => Equals(Cell(f, r, w.Col), w.Value))) return r;
        throw new Xunit.Sdk.XunitException("row not found: " + string.Join(", ", where.Select(w => $"{w.Col}={w.Value}")));
    }

    [Fact]
    public void LoadsNestedRunsWithTypedConfigLabelAndMetricColumns()
    {
        using var fake = new FakeRuns();
        string dir = fake.WriteToySweep();
        var set = ResultSet.Load(dir);

        Assert.Equal(7, set.Records.Count); // 6 sweep runs one level deeper + 1 failed run
        Assert.Equal(7, set.Runs.Rows.Count);
        Assert.Equal(13, set.Summaries.Rows.Count); // 6 runs × 2 arms + 1 arm of the failed run
        Assert.Equal(new[] { "schedule" }, set.LabelColumns);
        Assert.Equal(new[] { "accuracy", "loss" }, set.MetricColumns);

        var s = set.Summaries;
        Assert.Equal(typeof(long), FrameColumns.Get(s, "seed").DataType);
        Assert.Equal(typeof(long), FrameColumns.Get(s, "config.model.experts").DataType);
        Assert.Equal(typeof(double), FrameColumns.Get(s, "config.model.dropout").DataType);
        Assert.Equal(typeof(bool), FrameColumns.Get(s, "config.model.gated").DataType);
        Assert.Equal(typeof(string), FrameColumns.Get(s, "schedule").DataType);
        Assert.Equal(typeof(double), FrameColumns.Get(s, "accuracy").DataType);

        long r = RowWhere(s, ("run_id", "e8-s2"), ("arm", "dense"));
        Assert.Equal("const, warm", Cell(s, r, "schedule"));
        Assert.Equal(0.62, (double)Cell(s, r, "accuracy")!, 12);
        Assert.Equal(8L, Cell(s, r, "config.model.experts"));
        Assert.Equal("smoke", Cell(s, r, "preset"));
        long m = RowWhere(s, ("run_id", "e8-s2"), ("arm", "moe"));
        Assert.Null(Cell(s, m, "loss")); // empty cell = missing, not 0

        Assert.Equal(7 * 0 + 6 * 6, set.History.Rows.Count); // the failed run has no metrics.csv
        Assert.Equal(typeof(long), FrameColumns.Get(set.History, "step").DataType);
    }

    [Fact]
    public void AggregatesOverSeedsWithHandComputedMeanStdAndCi()
    {
        using var fake = new FakeRuns();
        var set = ResultSet.Load(fake.WriteToySweep());

        // Seed and unchanged config keys are not grouping keys; the varying experts count is.
        Assert.Equal(new[] { "arm", "config.model.experts" }, set.DefaultGroupKeys());
        var agg = set.Aggregate();
        Assert.True(4 == agg.Rows.Count, agg.ToString()); // failed run excluded

        long r = RowWhere(agg, ("arm", "dense"), ("config.model.experts", 4L));
        Assert.Equal(3L, Cell(agg, r, "n"));
        // accuracy = 0.5 + seed/100 for seeds 1..3: mean 0.52, sample std 0.01.
        Assert.Equal(0.52, (double)Cell(agg, r, "accuracy.mean")!, 12);
        Assert.Equal(0.01, (double)Cell(agg, r, "accuracy.std")!, 12);
        // t(0.975, df=2) has the closed form (2p-1)/sqrt(2p(1-p)).
        double t = 0.95 / Math.Sqrt(2 * 0.975 * 0.025);
        Assert.Equal(t * 0.01 / Math.Sqrt(3), (double)Cell(agg, r, "accuracy.ci95")!, 9);
        Assert.Equal(3L, Cell(agg, r, "accuracy.n"));
        // loss = 1/seed: mean of 1, 1/2, 1/3.
        Assert.Equal((1 + 0.5 + 1.0 / 3) / 3, (double)Cell(agg, r, "loss.mean")!, 12);

        long moe = RowWhere(agg, ("arm", "moe"), ("config.model.experts", 8L));
        Assert.Equal(0.72, (double)Cell(agg, moe, "accuracy.mean")!, 12);
        Assert.Equal(0L, Cell(agg, moe, "loss.n")); // all missing
        Assert.Null(Cell(agg, moe, "loss.mean"));

        // Including the failed run adds its row to (dense, 4).
        var all = set.Aggregate(includeIncomplete: true);
        Assert.Equal(4L, Cell(all, RowWhere(all, ("arm", "dense"), ("config.model.experts", 4L)), "n"));
    }

    [Fact]
    public void StatsOfOneValueHaveNoSpreadAndNaNPropagates()
    {
        var one = SeedAggregation.Compute(new[] { 2.5 });
        Assert.Equal(1, one.N);
        Assert.Equal(2.5, one.Mean);
        Assert.Null(one.Std);
        Assert.Null(one.Ci95);
        var withNaN = SeedAggregation.Compute(new[] { 1.0, double.NaN });
        Assert.True(double.IsNaN(withNaN.Mean!.Value));
        // Larger sample: t(0.975, 9) = 2.2621571628 (standard table value).
        var ten = SeedAggregation.Compute(Enumerable.Range(1, 10).Select(i => (double)i).ToList());
        Assert.Equal(5.5, ten.Mean!.Value, 12);
        Assert.Equal(Math.Sqrt(82.5 / 9), ten.Std!.Value, 12);
        Assert.Equal(2.2621571628 * Math.Sqrt(82.5 / 9) / Math.Sqrt(10), ten.Ci95!.Value, 8);
    }

    [Fact]
    public void AggregatesHistoryPerStep()
    {
        using var fake = new FakeRuns();
        var set = ResultSet.Load(fake.WriteToySweep());
        var h = set.AggregateHistory();
        Assert.Equal(2 * 2 * 3, h.Rows.Count); // arms × experts × steps (one metric)
        long r = RowWhere(h, ("arm", "dense"), ("config.model.experts", 4L), ("metric", "loss"), ("step", 1L));
        Assert.Equal(2.2, (double)Cell(h, r, "value.mean")!, 12); // 2/1 + seed*0.1, seeds 1..3
        Assert.Equal(0.1, (double)Cell(h, r, "value.std")!, 12);
    }

    [Fact]
    public void BadManifestIsSkippedWithFileLineAndReason()
    {
        using var fake = new FakeRuns();
        fake.WriteRun("x", "good", 1, new { a = 1 }, summaryCsv: "arm,acc\nmain,0.5\n");
        string dir = Path.Combine(fake.Root, "x", "r1");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "manifest.json"), "{\n  \"runId\": \"r1\",\n  \"seed\": ");
        var set = ResultSet.Load(fake.Root);
        Assert.Equal(new[] { "good" }, set.Records.Select(r => r.RunId));
        var skipped = Assert.Single(set.Skipped);
        Assert.Equal(dir, skipped.Directory);
        Assert.Equal("manifest.json", skipped.File);
        Assert.Equal(3, skipped.Line);
        Assert.StartsWith("not valid JSON (", skipped.Problem);
        Assert.DoesNotContain("LineNumber", skipped.Problem);
        Assert.StartsWith($"{dir}: manifest.json line 3: not valid JSON (", skipped.ToString());
        Assert.Equal("2 run(s): 1 completed; 1 skipped (unreadable files)", set.DescribeRuns());
        // RunRecord.Load itself still throws, naming the file.
        var e = Assert.Throws<DataFileException>(() => RunRecord.Load(dir));
        Assert.Contains(Path.Combine(dir, "manifest.json"), e.Message);

        var missing = Assert.Throws<DirectoryNotFoundException>(() => ResultSet.LoadExperiment("nope", fake.Root));
        Assert.Contains("nope", missing.Message);
    }

    [Fact]
    public void BadMetricsRowSkipsTheRunNamingFileAndLine()
    {
        using var fake = new FakeRuns();
        string dir = fake.WriteRun("x", "r1", 1, new { a = 1 }, summaryCsv: "arm,acc\nmain,0.5\n");
        File.WriteAllText(Path.Combine(dir, "metrics.csv"), "step,arm,metric,value\n1,main,loss,0.5\n\nx,main,loss,0.4\n");
        var set = ResultSet.Load(fake.Root);
        var skipped = Assert.Single(set.Skipped);
        Assert.Equal(("metrics.csv", (int?)4), (skipped.File, skipped.Line)); // the blank line 3 counts
        Assert.Equal("step 'x' is not an integer", skipped.Problem);
        Assert.Equal("r1", skipped.Record?.RunId);
        Assert.Empty(set.Records);
        Assert.Equal(0, set.Summaries.Rows.Count); // its readable summary is left out too
        Assert.Equal(0, set.History.Rows.Count);
    }

    [Theory]
    [InlineData("metrics.csv", "step,arm,metric,value\n1,main,loss,0.5\n2,main,loss,0.4", 3, "the last row has no newline after it: the file was cut short mid-row")]
    [InlineData("metrics.csv", "step,arm,metric,value\n1,main,loss,0.5\n2,main", 3, "row has 2 field(s), the header has 4 (last row, no newline after it: the file was cut short mid-row)")]
    [InlineData("metrics.csv", "", null, "empty file (expected the header step,arm,metric,value): the file was cut short")]
    [InlineData("summary.csv", "arm,acc\nmain,\"0.5", 2, "unterminated quoted field (the file ends inside it)")]
    [InlineData("summary.csv", "arm,ac", 1, "the file ends inside its header row (no newline after 'arm,ac'): the file was cut short")]
    [InlineData("summary.csv", "arm,acc,acc\nmain,1,2\n", 1, "duplicate column 'acc' in the header")]
    public void CutOrMalformedCsvSkipsTheRun(string file, string content, int? line, string problem)
    {
        using var fake = new FakeRuns();
        fake.WriteRun("x", "ok", 1, new { a = 1 }, summaryCsv: "arm,acc\nmain,0.5\n");
        string dir = fake.WriteRun("x", "cut", 2, new { a = 1 }, summaryCsv: "arm,acc\nmain,0.7\n");
        File.WriteAllText(Path.Combine(dir, file), content);
        var set = ResultSet.Load(fake.Root);
        var skipped = Assert.Single(set.Skipped);
        Assert.Equal((dir, file, line, problem), (skipped.Directory, skipped.File, skipped.Line, skipped.Problem));
        var agg = set.Aggregate();
        Assert.Equal(1L, Cell(agg, 0, "n"));
        Assert.Equal(0.5, (double)Cell(agg, 0, "acc.mean")!, 12);
    }

    [Fact]
    public void FailedBeforeStartIsReadAndDescribed()
    {
        using var fake = new FakeRuns();
        fake.WriteRun("x", "ok", 1, new { a = 1 }, summaryCsv: "arm,acc\nmain,0.5\n");
        string nodata = fake.WriteRun("x", "nodata", 2, new { a = 1 }, status: "failed");
        string manifest = Path.Combine(nodata, "manifest.json");
        File.WriteAllText(manifest, File.ReadAllText(manifest)
            .Replace("\"error\": \"boom\"", "\"error\": \"FileNotFoundException: MNIST not found in data/mnist\\nrun the download script\", \"failedBeforeStart\": true"));
        fake.WriteRun("x", "crashed", 3, new { a = 1 }, status: "failed");
        fake.WriteRun("x", "stopped", 4, new { a = 1 }, status: "interrupted");
        var set = ResultSet.Load(fake.Root);
        Assert.True(set.Records.Single(r => r.RunId == "nodata").FailedBeforeStart);
        Assert.Equal("4 run(s): 1 completed, 1 failed before start (FileNotFoundException: MNIST not found in data/mnist), 1 failed, 1 interrupted",
            set.DescribeRuns());
        Assert.Equal(new[] { "crashed", "nodata", "stopped" }, set.NotAggregated.Select(r => r.RunId));
        Assert.Equal(1L, Cell(set.Aggregate(), 0, "n"));
    }
}
