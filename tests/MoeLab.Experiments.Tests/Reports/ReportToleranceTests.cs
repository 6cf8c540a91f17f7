using MoeLab.Experiments.Cli;
using MoeLab.Experiments.Reports;
using MoeLab.Experiments.Results;
using MoeLab.Experiments.Runtime;
using MoeLab.Experiments.Tests.Runtime;
using Xunit.Abstractions;

namespace MoeLab.Experiments.Tests.Reports;

/// <summary>Three completed toy-regression smoke runs (seeds 1..3, folders s1..s3), made once
/// through the in-process runtime; each test works on its own copy.</summary>
public sealed class ToyRunsFixture : IDisposable
{
    public const string Experiment = "toy-regression";

    readonly TempDir template = new();

    public ToyRunsFixture()
    {
        var options = new RunOptions { ResultsRoot = template.Path, Device = "cpu" };
        foreach (long seed in new[] { 1L, 2L, 3L })
        {
            var outcome = ExperimentRunner.Run(Toy.Experiment, Toy.Smoke(), seed, options, Path.Combine(template.Path, Experiment, $"s{seed}"));
            if (!outcome.Completed) throw new InvalidOperationException($"fixture run s{seed} did not complete: {outcome.Error}");
        }
    }

    /// <summary>A fresh copy of the results root (deleted when disposed).</summary>
    internal TempDir Copy()
    {
        var copy = new TempDir();
        foreach (string dir in Directory.GetDirectories(template.Path, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(dir.Replace(template.Path, copy.Path, StringComparison.Ordinal));
        foreach (string file in Directory.GetFiles(template.Path, "*", SearchOption.AllDirectories))
            File.Copy(file, file.Replace(template.Path, copy.Path, StringComparison.Ordinal));
        return copy;
    }

    public void Dispose() => template.Dispose();
}

/// <summary>`moelab report` on damaged and incomplete results: it skips what it cannot read, says
/// so (console and HTML), keeps n honest, and fails with one line when it cannot write.</summary>
public class ReportToleranceTests(ToyRunsFixture runs, ITestOutputHelper log) : IClassFixture<ToyRunsFixture>
{
    const string Exp = ToyRunsFixture.Experiment;

    static string RunDir(TempDir root, string run) => Path.Combine(root.Path, Exp, run);

    (int Code, string Out, string Err, string Html) Report(TempDir root)
    {
        string outPath = Path.Combine(root.Path, "out", "report.html");
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = ReportCommand.Run(Exp, root.Path, outPath, stdout, stderr);
        log.WriteLine($"exit {code}\n{stdout}{stderr}");
        return (code, stdout.ToString(), stderr.ToString(), File.Exists(outPath) ? File.ReadAllText(outPath) : "");
    }

    /// <summary>Aggregated n of the one group (arm "main"): the "runs" cell of the summary table.</summary>
    const string SummaryRowOfTwo = "<td>main</td><td>2</td>";

    [Fact]
    public void Intact_runs_give_exit_0_and_aggregate_all_three()
    {
        using var root = runs.Copy();
        var (code, stdout, stderr, html) = Report(root);
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("3 run(s): 3 completed", stdout);
        Assert.DoesNotContain("skipped", stdout);
        Assert.Contains("<td>main</td><td>3</td>", html);
        Assert.DoesNotContain("id=\"skipped\"", html);
    }

    [Fact]
    public void Metrics_cut_mid_row_skips_that_run_lists_it_and_aggregates_the_others()
    {
        using var root = runs.Copy();
        string metrics = Path.Combine(RunDir(root, "s2"), RunLayout.Metrics);
        string text = File.ReadAllText(metrics);
        int sixthNewline = -1;
        for (int i = 0; i < 6; i++) sixthNewline = text.IndexOf('\n', sixthNewline + 1);
        File.WriteAllText(metrics, text[..(sixthNewline + 1 + "10,main".Length)]); // line 7 cut after its 2nd field

        var (code, stdout, stderr, html) = Report(root);

        Assert.True(code == 1, stdout + stderr);
        Assert.Contains($"skipped: {RunDir(root, "s2")}: metrics.csv line 7: row has 2 field(s), the header has 4", stdout);
        Assert.Contains("3 run(s): 2 completed; 1 skipped (unreadable files)", stdout);
        Assert.Contains("<h2 id=\"skipped\">Skipped runs</h2>", html);
        Assert.Contains("<td>s2</td><td>completed</td><td>metrics.csv</td><td>7</td><td>row has 2 field(s), the header has 4", html);
        Assert.Contains(SummaryRowOfTwo, html); // s1 and s3 aggregated, n = 2

        var set = ResultSet.LoadExperiment(Exp, root.Path);
        var skipped = Assert.Single(set.Skipped);
        Assert.Equal((RunDir(root, "s2"), "metrics.csv", (int?)7), (skipped.Directory, skipped.File, skipped.Line));
        Assert.Equal(new[] { "s1", "s3" }, set.Records.Select(r => r.RunId));
        Assert.Equal(2L, Assert.Single(set.Aggregate().Columns["n"].Cast<long?>()));
        Assert.DoesNotContain("s2", set.History.Columns["run_id"].Cast<string>()); // neither its curves
    }

    [Fact]
    public void Summary_cut_inside_its_header_is_listed_as_skipped_and_n_is_two_of_three()
    {
        using var root = runs.Copy();
        string summary = Path.Combine(RunDir(root, "s1"), RunLayout.Summary);
        File.WriteAllText(summary, File.ReadAllText(summary)[..15]); // "arm,optimizer,s"

        var (code, stdout, stderr, html) = Report(root);

        Assert.True(code == 1, stdout + stderr);
        Assert.Contains($"skipped: {RunDir(root, "s1")}: summary.csv line 1: the file ends inside its header row", stdout);
        Assert.Contains("3 run(s): 2 completed; 1 skipped (unreadable files)", html);
        Assert.Contains("<td>s1</td><td>completed</td><td>summary.csv</td><td>1</td><td>the file ends inside its header row", html);
        Assert.Contains(SummaryRowOfTwo, html);
        Assert.Matches(@"<td title=""95% CI[^""]*"">[^<]* ± [^<]* \(2\)</td>", html); // mean ± std (n = 2)

        var set = ResultSet.LoadExperiment(Exp, root.Path);
        Assert.Equal("summary.csv", Assert.Single(set.Skipped).File);
        Assert.Equal(2L, set.Aggregate().Columns["val_loss.n"][0]);
    }

    [Fact]
    public void Truncated_manifest_is_skipped_with_the_json_error()
    {
        using var root = runs.Copy();
        string manifest = Path.Combine(RunDir(root, "s3"), RunLayout.Manifest);
        string text = File.ReadAllText(manifest);
        File.WriteAllText(manifest, text[..(text.Length / 2)]);

        var (code, stdout, stderr, html) = Report(root);

        Assert.True(code == 1, stdout + stderr);
        Assert.Matches($@"skipped: {System.Text.RegularExpressions.Regex.Escape(RunDir(root, "s3"))}: manifest\.json line \d+: not valid JSON \(.+\)", stdout);
        Assert.Contains("<td>s3</td><td>?</td><td>manifest.json</td>", html);
        Assert.Contains(SummaryRowOfTwo, html);
        var skipped = Assert.Single(ResultSet.LoadExperiment(Exp, root.Path).Skipped);
        Assert.Null(skipped.Record);
        Assert.StartsWith("not valid JSON (", skipped.Problem);
    }

    [Fact]
    public void Failed_before_start_and_failed_runs_are_named_and_not_aggregated()
    {
        using var root = runs.Copy();
        var options = new RunOptions { ResultsRoot = root.Path, Device = "cpu" };
        var early = ExperimentRunner.Run(Toy.Experiment, Toy.Smoke("train.fault=Throw", "train.faultStep=0"), 4, options, RunDir(root, "s4"));
        var late = ExperimentRunner.Run(Toy.Experiment, Toy.Smoke("train.fault=Throw", "train.faultStep=30"), 5, options, RunDir(root, "s5"));
        Assert.True(RunManifest.Read(early.RunDirectory).FailedBeforeStart); // preconditions
        Assert.False(RunManifest.Read(late.RunDirectory).FailedBeforeStart);

        var (code, stdout, stderr, html) = Report(root);

        Assert.True(code == 0, stdout + stderr); // readable runs: nothing skipped
        const string runsLine = "5 run(s): 3 completed, 1 failed before start (InvalidOperationException: toy-regression: injected failure at step 0 (train.fault=Throw).), 1 failed";
        Assert.Contains(runsLine, stdout);
        Assert.Contains(runsLine, html);
        Assert.Contains($"not aggregated: {RunDir(root, "s4")}: failed before start: InvalidOperationException: toy-regression: injected failure at step 0", stdout);
        Assert.Contains($"not aggregated: {RunDir(root, "s5")}: failed: InvalidOperationException: toy-regression: injected failure at step 30", stdout);
        Assert.Contains("<h2 id=\"not-aggregated\">", html);
        Assert.Contains("<td>s4</td><td>failed before start</td><td>4</td><td>InvalidOperationException", html);
        // n = 3 completed of 5 runs. (train.fault varies across the runs read, so it is a grouping key
        // too; the failed runs' values have no aggregated row.)
        Assert.Matches(@"<td>main</td>(<td>[^<]*</td>)*<td>3</td><td title=", html);
        Assert.DoesNotMatch(@"\((4|5)\)</td>", html);

        var set = ResultSet.LoadExperiment(Exp, root.Path);
        var agg = set.Aggregate();
        Assert.Equal(3L, Assert.Single(agg.Columns["n"].Cast<long?>()));
        var flagged = Enumerable.Range(0, (int)set.Runs.Rows.Count)
            .Where(r => set.Runs.Columns["failed_before_start"][r] is true).Select(r => (string)set.Runs.Columns["run_id"][r]);
        Assert.Equal(new[] { "s4" }, flagged);
        Assert.Equal(new[] { "s4", "s5" }, set.NotAggregated.Select(r => r.RunId));
    }

    [Theory]
    [InlineData("file-parent")]
    [InlineData("folder-target")]
    [InlineData("proc")]
    public void Unwritable_destination_is_one_line_and_exit_2(string kind)
    {
        using var root = runs.Copy();
        string outPath = kind switch
        {
            "file-parent" => Path.Combine(root.Path, "blocker", "report.html"),
            "folder-target" => Path.Combine(root.Path, "a-folder"),
            _ => "/proc/moelab-report-test/report.html", // not writable even by root
        };
        if (kind == "file-parent") File.WriteAllText(Path.Combine(root.Path, "blocker"), "a file");
        if (kind == "folder-target") Directory.CreateDirectory(outPath);
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        int code = ReportCommand.Run(Exp, root.Path, outPath, stdout, stderr);
        log.WriteLine($"exit {code}\n{stdout}{stderr}");

        Assert.Equal(2, code);
        string err = stderr.ToString();
        var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, err);
        Assert.StartsWith($"moelab report: cannot write {outPath}: ", lines[0]);
        Assert.EndsWith("(choose another place with --out)", lines[0].TrimEnd('\r'));
        Assert.DoesNotContain(" at MoeLab", err); // no stack trace
        Assert.Equal("", stdout.ToString());
        if (kind == "file-parent") Assert.Contains($"{Path.Combine(root.Path, "blocker")} is a file, not a folder", lines[0]);
        if (kind == "folder-target") Assert.Contains("it is a folder", lines[0]);
        Assert.Empty(Directory.GetFiles(root.Path, "*.tmp-*", SearchOption.AllDirectories));
    }

    [Fact]
    public void Permission_denied_is_named_as_such()
    {
        // Tests run as root, whom chmod does not stop: the mapping of the exception is checked directly.
        string path = Path.Combine(Path.GetTempPath(), "moelab-no-such-dir-" + Guid.NewGuid().ToString("N")[..8], "report.html");
        var e = new ReportWriteException(path, new UnauthorizedAccessException($"Access to the path '{path}.tmp-1-abc' is denied."));
        Assert.Equal($"cannot write {path}: permission denied", e.Message);
        Assert.Equal("permission denied", e.Reason);
    }

    [Fact]
    public void Unknown_experiment_and_missing_results_folder_are_exit_2()
    {
        using var root = runs.Copy();
        var err = new StringWriter();
        Assert.Equal(2, ReportCommand.Run("nope", root.Path, null, TextWriter.Null, err));
        Assert.Contains("no results for experiment 'nope'", err.ToString());
        err = new StringWriter();
        Assert.Equal(2, ReportCommand.Run(Exp, Path.Combine(root.Path, "missing"), null, TextWriter.Null, err));
        Assert.Contains("(results folder missing)", err.ToString());
    }

    [Fact]
    public void Help_documents_the_exit_codes()
    {
        string description = ReportCommand.Create().Description!;
        Assert.Contains("0 = report written from all runs", description);
        Assert.Contains("1 = report written but some runs were skipped", description);
        Assert.Contains("2 = bad input", description);
    }
}
