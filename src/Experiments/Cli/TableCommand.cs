using System.CommandLine;
using MoeLab.Experiments.Reports;
using MoeLab.Experiments.Results;
using MoeLab.Experiments.Runtime;

namespace MoeLab.Experiments.Cli;

/// <summary>`moelab table &lt;experiment&gt; [--results DIR] --format md|csv|latex [--out FILE]`: the summary
/// (mean ± sd, n, per arm) of an experiment's completed runs for a write-up (<see cref="SummaryTable"/>).
/// Exit codes: 0 written; 2 bad input (unknown format, no results, no completed run, unwritable --out).</summary>
public static class TableCommand
{
    public static Command Create()
    {
        var experiment = new Argument<string>("experiment") { Description = "Experiment name (a folder under the results root)." };
        var results = new Option<string?>("--results") { Description = "Results root (default: $MOELAB_RESULTS, else <repo>/results)." };
        var format = new Option<string>("--format") { Description = "md, csv or latex (booktabs).", DefaultValueFactory = _ => "md" };
        var output = new Option<string?>("--out") { Description = "Write to this file instead of stdout." };
        var cmd = new Command("table", "Print the summary of an experiment (mean ± sd, n per arm) as markdown, CSV or LaTeX. " +
                                       "Rounding: sd to 2 significant digits, mean to the same decimal place.");
        cmd.Arguments.Add(experiment);
        cmd.Options.Add(results);
        cmd.Options.Add(format);
        cmd.Options.Add(output);
        cmd.SetAction(p => Run(p.GetValue(experiment)!, p.GetValue(results), p.GetValue(format)!, p.GetValue(output), Console.Out, Console.Error));
        return cmd;
    }

    public static int Run(string experiment, string? results, string format, string? outPath, TextWriter output, TextWriter error)
    {
        try
        {
            string f = format.Trim().ToLowerInvariant();
            if (f is not ("md" or "markdown" or "csv" or "latex" or "tex"))
                throw new ArgumentException($"--format: unknown format '{format}' (allowed: md, csv, latex)");
            var set = ResultSet.LoadExperiment(experiment, results ?? RunLayout.DefaultResultsRoot());
            var table = SummaryTable.Build(set, experiment);
            string text = f switch { "csv" => table.Csv(), "latex" or "tex" => table.Latex(), _ => table.Markdown() };
            if (outPath is null) output.Write(text);
            else
            {
                string full = Path.GetFullPath(outPath);
                AtomicFile.WriteAllText(full, text);
                output.WriteLine($"Wrote {full} ({table.Rows.Count} row(s), {table.Metrics.Count} metric(s)).");
            }
            return 0;
        }
        catch (Exception e) when (e is ArgumentException or DirectoryNotFoundException or FileNotFoundException or IOException or UnauthorizedAccessException or FormatException)
        {
            error.WriteLine("moelab table: " + e.Message.ReplaceLineEndings(" "));
            return 2;
        }
    }
}
