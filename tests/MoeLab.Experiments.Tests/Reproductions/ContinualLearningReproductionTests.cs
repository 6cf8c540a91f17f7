using System.Text.Json;
using MoeLab.Experiments.Cli;
using MoeLab.Experiments.Papers.MoeContinualLearning;
using MoeLab.Experiments.Plotting;
using MoeLab.Experiments.Reports;
using MoeLab.Experiments.Reproductions;
using MoeLab.Experiments.Results;
using MoeLab.Experiments.Runtime;
using MoeLab.Experiments.Tests.Plotting;
using MoeLab.Experiments.Tests.Runtime;

namespace MoeLab.Experiments.Tests.Reproductions;

/// <summary>One continual-learning smoke run (≈ 1 s) shared by the tests of its claims, figures,
/// report, table and folder size.</summary>
public sealed class ContinualLearningSmokeRun : IDisposable
{
    readonly TempDir dir = new();
    public string ResultsRoot => dir.Path;
    public string ExperimentDirectory => Path.Combine(dir.Path, "moe-continual-learning");
    public string RunDirectory { get; }

    public ContinualLearningSmokeRun()
    {
        var experiment = new MoeContinualLearningExperiment();
        var config = ConfigBinder.Resolve(experiment, "smoke", null, Array.Empty<string>());
        var run = ExperimentRunner.Run(experiment, config, 0, new RunOptions { ResultsRoot = dir.Path, Device = "cpu" });
        if (run.Status != RunLayout.Status.Completed) throw new InvalidOperationException("smoke run did not complete: " + run.Status);
        RunDirectory = run.RunDirectory;
    }

    public ResultSet Load() => ResultSet.LoadExperiment("moe-continual-learning", ResultsRoot);

    public void Dispose() => dir.Dispose();
}

public class ContinualLearningReproductionTests(ContinualLearningSmokeRun smoke) : IClassFixture<ContinualLearningSmokeRun>
{
    static JsonElement Parse(string json) => JsonDocument.Parse(json).RootElement.Clone();

    [Fact]
    public void The_reproduction_is_found_by_experiment_name()
    {
        var r = PaperReproductions.For("moe-continual-learning");
        Assert.IsType<MoeContinualLearningReproduction>(r);
        Assert.Null(PaperReproductions.For("no-such-experiment"));
    }

    [Fact]
    public void Every_declared_paper_figure_has_title_axis_titles_legend_names_spread_and_distinct_styles()
    {
        var reproduction = PaperReproductions.For("moe-continual-learning")!;
        var runs = smoke.Load();
        Assert.Equal(reproduction.Figures.Count, PaperReproductions.BuildFigures(reproduction, runs).Count);
        var problems = new List<string>();
        foreach (var (figure, fig) in FigureChecks.Reproduction(reproduction, runs, problems))
        {
            if (figure.Name.StartsWith("fig", StringComparison.Ordinal) && !figure.Name.EndsWith("specialisation", StringComparison.Ordinal) && !FigureChecks.HasSpread(fig))
                problems.Add($"{figure.Name}: curves without a spread band");
            if (figure.Name.StartsWith("fig", StringComparison.Ordinal) && !figure.Name.EndsWith("specialisation", StringComparison.Ordinal))
            {
                string legendTitle = fig.GetProperty("layout").GetProperty("legend").GetProperty("title").GetProperty("text").GetString() ?? "";
                if (!legendTitle.Contains("± 1 sd over 2 repetitions", StringComparison.Ordinal)) problems.Add($"{figure.Name}: legend title '{legendTitle}' does not say what the band is");
            }
        }
        Assert.Empty(problems);
    }

    [Fact]
    public void Every_figure_the_run_saved_passes_the_same_checks()
    {
        var files = Directory.GetFiles(Path.Combine(smoke.RunDirectory, RunLayout.Figures), "*.json");
        Assert.True(files.Length >= 10, $"only {files.Length} figures saved");
        var problems = new List<string>();
        foreach (var f in files)
        {
            var fig = Parse(File.ReadAllText(f));
            string name = Path.GetFileNameWithoutExtension(f);
            problems.AddRange(FigureChecks.Labels(name, fig));
            problems.AddRange(FigureChecks.DistinctStyles(name, fig));
            if ((name.EndsWith("_forgetting", StringComparison.Ordinal) || name.EndsWith("_generalisation", StringComparison.Ordinal)) && !FigureChecks.HasSpread(fig))
                problems.Add($"{name}: no spread band");
        }
        Assert.Empty(problems);
        // termination_rounds is an outcome share per arm (not a histogram of one value with ticks 119.6–120.4).
        var outcome = Parse(File.ReadAllText(Path.Combine(smoke.RunDirectory, RunLayout.Figures, "termination_rounds.json")));
        Assert.Equal(new[] { "at the forced minimum round", "later (Γ rule decided)", "never (gate trained to the end)" },
            FigureChecks.LegendTraces(outcome).Select(t => t.GetProperty("name").GetString()));
    }

    [Fact]
    public void Claims_are_measured_from_the_runs_and_render_as_html_and_markdown()
    {
        var claims = PaperReproductions.EvaluateClaims(PaperReproductions.For("moe-continual-learning")!, smoke.Load());
        var gamma = claims.Single(c => c.Id == "gamma-decides");
        // Measured here from tables/termination_rounds.csv: the share of figs. 4–5 repetitions frozen exactly at the minimum.
        var table = FrameIO.LoadCsv(Path.Combine(smoke.RunDirectory, RunLayout.Tables, "termination_rounds.csv"));
        var study = FrameColumns.Get(table, "study"); var round = FrameColumns.Get(table, "termination_round");
        var rounds = Enumerable.Range(0, (int)table.Rows.Count).Where(r => FrameColumns.Format(study[r]) == "termination").Select(r => FrameColumns.AsDouble(round[r])).ToList();
        double expected = rounds.Count(v => v == 120) / (double)rounds.Count;
        Assert.Equal(expected, gamma.Ours[0].Value, 12);
        Assert.Equal(rounds.Count, gamma.Ours[0].N);
        Assert.Equal(expected >= 0.9 ? Verdict.NotReproduced : expected >= 0.5 ? Verdict.Partly : Verdict.Reproduced, gamma.Verdict);
        Assert.Equal(Verdict.NotTested, claims.Single(c => c.Id == "mnist-cnn").Verdict);
        Assert.Equal(Verdict.NotTested, claims.Single(c => c.Id == "more-experts-later").Verdict); // smoke has one M > 1 arm

        var generalises = claims.Single(c => c.Id == "moe-generalises-better");
        Assert.Equal(new[] { "M=1", "M=3" }, generalises.Ours.Select(m => m.Label));
        Assert.All(generalises.Ours, m => Assert.Equal(2, m.N));

        string html = ClaimsTable.Html(claims);
        Assert.Contains("paper's number", html);
        Assert.Contains("verdict-not-tested", html);
        Assert.Equal(claims.Count, html.Split("<tr><td>").Length - 1);
        string md = ClaimsTable.Markdown(claims);
        Assert.Equal(claims.Count + 2, md.TrimEnd().Split('\n').Length);
        Assert.Contains("| paper: ", md);
    }

    [Fact]
    public void Report_starts_with_claims_and_paper_figures_has_relative_paths_and_one_plotly()
    {
        string out1 = Path.Combine(smoke.ExperimentDirectory, "report.html");
        var info = ReportBuilder.Build("moe-continual-learning", smoke.ResultsRoot, out1);
        string html = File.ReadAllText(info.Path);
        int claims = html.IndexOf("id=\"claims\"", StringComparison.Ordinal), figures = html.IndexOf("id=\"paper-figures\"", StringComparison.Ordinal);
        int runs = html.IndexOf("id=\"runs\"", StringComparison.Ordinal);
        Assert.True(claims > 0 && claims < figures && figures < runs, $"order: claims {claims}, paper figures {figures}, runs {runs}");
        Assert.DoesNotContain(smoke.ResultsRoot, html);
        Assert.DoesNotContain(Path.GetTempPath(), html);
        Assert.Equal(1, CountOf(html, PlotlyAssets.ScriptTag[..Math.Min(60, PlotlyAssets.ScriptTag.Length)]));
        Assert.Contains("class=\"scroll\"", html);
        Assert.DoesNotContain("experts by arm", html);
        Assert.DoesNotContain("repetitions by arm", html);
        foreach (var f in PaperReproductions.For("moe-continual-learning")!.Figures) Assert.Contains($"id=\"paper-{f.Name}\"", html);
    }

    static int CountOf(string s, string part)
    {
        int n = 0;
        for (int i = s.IndexOf(part, StringComparison.Ordinal); i >= 0; i = s.IndexOf(part, i + part.Length, StringComparison.Ordinal)) n++;
        return n;
    }

    [Fact]
    public void Smoke_run_folder_stays_under_5_MB()
    {
        long bytes = new DirectoryInfo(smoke.RunDirectory).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);
        Assert.True(bytes < 5_000_000, $"{smoke.RunDirectory} holds {bytes:N0} bytes");
    }

    [Fact]
    public void Table_command_writes_markdown_csv_and_booktabs_latex_with_one_rounding_rule()
    {
        var table = SummaryTable.Build(smoke.Load(), "moe-continual-learning");
        Assert.Contains("final_generalisation_mean", table.Metrics);
        Assert.DoesNotContain("repetitions", table.Metrics);

        foreach (var format in new[] { "md", "csv", "latex" })
        {
            var stdout = new StringWriter(); var stderr = new StringWriter();
            Assert.Equal(0, TableCommand.Run("moe-continual-learning", smoke.ResultsRoot, format, null, stdout, stderr));
            string text = stdout.ToString();
            var row = table.Rows.First(r => r.Keys[0] == "M=3");
            var cell = row.Cells[table.Metrics.ToList().IndexOf("final_generalisation_mean")];
            Assert.Contains(cell.Mean, text); // the same rounded number in every format
            switch (format)
            {
                case "md":
                    Assert.StartsWith("| arm |", text);
                    Assert.Contains($"{cell.Mean}", text);
                    break;
                case "csv":
                    Assert.StartsWith("arm,", text);
                    Assert.Contains("final_generalisation_mean_mean,final_generalisation_mean_sd,final_generalisation_mean_n", text);
                    break;
                case "latex":
                    Assert.Contains("\\toprule", text); Assert.Contains("\\midrule", text); Assert.Contains("\\bottomrule", text);
                    Assert.Contains("final\\_generalisation\\_mean", text);
                    Assert.DoesNotContain("\\hline", text);
                    break;
            }
        }
        using var tmp = new TempDir();
        string file = Path.Combine(tmp.Path, "t.tex");
        Assert.Equal(0, TableCommand.Run("moe-continual-learning", smoke.ResultsRoot, "latex", file, new StringWriter(), new StringWriter()));
        Assert.Contains("\\begin{tabular}", File.ReadAllText(file));
        var err = new StringWriter();
        Assert.Equal(2, TableCommand.Run("moe-continual-learning", smoke.ResultsRoot, "docx", null, new StringWriter(), err));
        Assert.Contains("unknown format 'docx'", err.ToString());
    }
}
