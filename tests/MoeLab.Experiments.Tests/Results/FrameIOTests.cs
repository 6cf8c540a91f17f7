using Microsoft.Data.Analysis;
using MoeLab.Experiments.Results;

namespace MoeLab.Experiments.Tests.Results;

public class FrameIOTests
{
    static DataFrame Sample() => new(
        new DoubleDataFrameColumn("d", new double?[] { 0.1, null, double.NaN, -1e-300, 1.0 / 3 }),
        new SingleDataFrameColumn("f", new float?[] { 1.5f, 2.25f, null, 0f, -3f }),
        new Int64DataFrameColumn("l", new long?[] { 1, null, long.MaxValue, -5, 0 }),
        new Int32DataFrameColumn("i", new int?[] { 3, 4, null, int.MinValue, 7 }),
        new BooleanDataFrameColumn("b", new bool?[] { true, false, null, true, false }),
        new StringDataFrameColumn("s", new[] { "plain", null, "", "comma, \"quote\"\nnewline", " padded " }));

    static void AssertSame(DataFrame expected, DataFrame actual)
    {
        Assert.Equal(expected.Columns.Select(c => c.Name), actual.Columns.Select(c => c.Name));
        Assert.Equal(expected.Rows.Count, actual.Rows.Count);
        foreach (var e in expected.Columns)
        {
            var a = actual.Columns[e.Name];
            Assert.Equal(e.DataType, a.DataType);
            for (long r = 0; r < e.Length; r++)
            {
                object? x = e[r], y = a[r];
                if (x is double dx && double.IsNaN(dx)) Assert.True(y is double dy && double.IsNaN(dy), $"{e.Name}[{r}]");
                else Assert.True(Equals(x, y), $"{e.Name}[{r}]: expected {x ?? "null"}, got {y ?? "null"}");
            }
        }
    }

    [Fact]
    public void CsvRoundTripKeepsTypesAndNulls()
    {
        string dir = Path.Combine(Path.GetTempPath(), "moelab-io-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var frame = Sample();
            string path = Path.Combine(dir, "t.csv");
            FrameIO.SaveCsv(frame, path);
            Assert.True(File.Exists(FrameIO.SchemaPath(path)));
            AssertSame(frame, FrameIO.LoadCsv(path));

            // Without the sidecar, types are inferred (never float): whole numbers → long.
            File.Delete(FrameIO.SchemaPath(path));
            var inferred = FrameIO.LoadCsv(path);
            Assert.Equal(typeof(double), inferred.Columns["d"].DataType);
            Assert.Equal(typeof(long), inferred.Columns["l"].DataType);
            Assert.Equal(typeof(bool), inferred.Columns["b"].DataType);
            Assert.Equal(typeof(string), inferred.Columns["s"].DataType);
            Assert.Null(inferred.Columns["s"][1]);
            Assert.Equal("", inferred.Columns["s"][2]);
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    [Fact]
    public void ParquetRoundTripKeepsTypesAndNulls()
    {
        string dir = Path.Combine(Path.GetTempPath(), "moelab-io-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var frame = Sample();
            string path = Path.Combine(dir, "t.parquet");
            FrameIO.SaveParquet(frame, path);
            var bytes = File.ReadAllBytes(path);
            Assert.Equal("PAR1", System.Text.Encoding.ASCII.GetString(bytes, 0, 4));
            AssertSame(frame, FrameIO.LoadParquet(path));
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    [Fact]
    public void SummariesRoundTripThroughBothFormats()
    {
        using var fake = new FakeRuns();
        var set = ResultSet.Load(fake.WriteToySweep());
        string csv = Path.Combine(fake.Root, "out", "summaries.csv"), parquet = Path.Combine(fake.Root, "out", "summaries.parquet");
        FrameIO.SaveCsv(set.Summaries, csv);
        FrameIO.SaveParquet(set.Summaries, parquet);
        AssertSame(set.Summaries, FrameIO.LoadCsv(csv));
        AssertSame(set.Summaries, FrameIO.LoadParquet(parquet));
        var agg = set.Aggregate();
        FrameIO.SaveParquet(agg, parquet);
        AssertSame(agg, FrameIO.LoadParquet(parquet));

        string exportDir = Path.Combine(fake.Root, "export");
        var files = set.Export(exportDir);
        Assert.Equal(8, files.Count);
        AssertSame(set.History, FrameIO.LoadParquet(Path.Combine(exportDir, "history.parquet")));
        AssertSame(set.Runs, FrameIO.LoadCsv(Path.Combine(exportDir, "runs.csv")));
    }

    [Fact]
    public void MalformedCsvNamesFileRowAndColumn()
    {
        string dir = Path.Combine(Path.GetTempPath(), "moelab-io-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            string path = Path.Combine(dir, "bad.csv");
            File.WriteAllText(path, "a,b\n1,2\n3\n");
            Assert.Contains("row 3", Assert.Throws<FormatException>(() => FrameIO.LoadCsv(path)).Message);
            File.WriteAllText(path, "a,b\n1,2\nx,3\n");
            var e = Assert.Throws<FormatException>(() => FrameIO.LoadCsv(path, new Dictionary<string, Type> { ["a"] = typeof(long) }));
            Assert.Contains("column 'a'", e.Message);
            Assert.Contains(path, e.Message);
        }
        finally { Directory.Delete(dir, true); }
    }
}
