using System.CommandLine;
using MoeLab.Experiments.Reports;
using MoeLab.Experiments.Runtime;

namespace MoeLab.Experiments.Cli;

/// <summary>`moelab report &lt;experiment&gt; [--results dir] [--out file]`: one self-contained HTML
/// report (tables, curves with seed bands, run figures, configs) of an experiment's runs.
/// Exit codes: <see cref="AllRuns"/>, <see cref="SomeSkipped"/>, <see cref="BadInput"/>.</summary>
public static class ReportCommand
{
    /// <summary>The report was written from every run found.</summary>
    public const int AllRuns = 0;

    /// <summary>The report was written, but some runs (or run files) could not be read and were
    /// skipped; they are listed on the console and in the report.</summary>
    public const int SomeSkipped = 1;

    /// <summary>No report: unknown experiment, no results folder, or the report file cannot be written.</summary>
    public const int BadInput = 2;

    /// <summary>At most this many not-aggregated runs are listed on the console (all are in the report).</summary>
    public const int MaxListed = 20;

    public const string Description =
        "Build an HTML report of an experiment's runs (tables, figures, configs). Only completed runs are aggregated; " +
        "failed, interrupted and unreadable runs are listed with their errors. " +
        "Exit codes: 0 = report written from all runs; 1 = report written but some runs were skipped " +
        "(unreadable or partial files; listed on the console and in the report); " +
        "2 = bad input: unknown experiment, no results folder, or the report cannot be written (nothing written).";

    public static Command Create()
    {
        var experiment = new Argument<string>("experiment") { Description = "Experiment name (a folder under the results root)." };
        var results = new Option<string?>("--results") { Description = "Results root (default: $MOELAB_RESULTS, else <repo>/results)." };
        var output = new Option<string?>("--out") { Description = "Report file (default: <results>/<experiment>/report.html)." };
        var cmd = new Command("report", Description);
        cmd.Arguments.Add(experiment);
        cmd.Options.Add(results);
        cmd.Options.Add(output);
        cmd.SetAction(p => Run(p.GetValue(experiment)!, p.GetValue(results), p.GetValue(output), Console.Out, Console.Error));
        return cmd;
    }

    public static int Run(string experiment, string? results, string? outPath, TextWriter output, TextWriter error)
    {
        ReportInfo info;
        try
        {
            info = ReportBuilder.Build(experiment, results ?? RunLayout.DefaultResultsRoot(), outPath);
        }
        catch (ReportWriteException e)
        {
            error.WriteLine($"moelab report: {OneLine(e.Message)} (choose another place with --out)");
            return BadInput;
        }
        catch (Exception e) when (e is DirectoryNotFoundException or FileNotFoundException or FormatException or ArgumentException
                                      or IOException or UnauthorizedAccessException)
        {
            error.WriteLine("moelab report: " + (e is UnauthorizedAccessException ? "permission denied: " : "") + OneLine(e.Message));
            return BadInput;
        }

        output.WriteLine($"Report: {info.Path}");
        output.WriteLine($"  {info.RunsLine}");
        output.WriteLine($"  aggregated over the {info.CompletedRuns} completed run(s): {info.AggregatedRows} row(s); " +
                         $"{info.Charts} chart(s), {info.RunFigures} run figure(s), {info.Configs} config(s); {info.Bytes / 1024.0 / 1024.0:F1} MiB");
        foreach (var r in info.NotAggregated.Take(MaxListed))
            output.WriteLine($"  not aggregated: {r.Directory}: {r.StatusText}{(r.ErrorFirstLine is { } err ? ": " + err : "")}");
        if (info.NotAggregated.Count > MaxListed)
            output.WriteLine($"  ... and {info.NotAggregated.Count - MaxListed} more run(s) not aggregated (all are listed in the report)");
        foreach (var s in info.Skipped)
            output.WriteLine($"  skipped: {s}");
        foreach (var f in info.UnreadableFiles)
            output.WriteLine($"  not shown: {f}");
        return info.Complete ? AllRuns : SomeSkipped;
    }

    static string OneLine(string s) => s.ReplaceLineEndings(" ").Trim();
}
