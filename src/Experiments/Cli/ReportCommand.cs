using System.CommandLine;
using MoeLab.Experiments.Reports;
using MoeLab.Experiments.Runtime;

namespace MoeLab.Experiments.Cli;

/// <summary>`moelab report &lt;experiment&gt; [--results dir] [--out file]`: one self-contained HTML
/// report (tables, curves with seed bands, run figures, configs) of an experiment's runs.</summary>
public static class ReportCommand
{
    public static Command Create()
    {
        var experiment = new Argument<string>("experiment") { Description = "Experiment name (a folder under the results root)." };
        var results = new Option<string?>("--results") { Description = "Results root (default: $MOELAB_RESULTS, else <repo>/results)." };
        var output = new Option<string?>("--out") { Description = "Report file (default: <results>/<experiment>/report.html)." };
        var cmd = new Command("report", "Build an HTML report of an experiment's runs (tables, figures, configs).");
        cmd.Arguments.Add(experiment);
        cmd.Options.Add(results);
        cmd.Options.Add(output);
        cmd.SetAction(p => Run(p.GetValue(experiment)!, p.GetValue(results), p.GetValue(output), Console.Out, Console.Error));
        return cmd;
    }

    public static int Run(string experiment, string? results, string? outPath, TextWriter output, TextWriter error)
    {
        try
        {
            var info = ReportBuilder.Build(experiment, results ?? RunLayout.DefaultResultsRoot(), outPath);
            output.WriteLine($"Report: {info.Path}");
            output.WriteLine($"  {info.Runs} run(s), {info.CompletedRuns} completed; {info.AggregatedRows} aggregated row(s); " +
                             $"{info.Charts} chart(s), {info.RunFigures} run figure(s), {info.Configs} config(s); {info.Bytes / 1024.0 / 1024.0:F1} MiB");
            return 0;
        }
        catch (Exception e) when (e is DirectoryNotFoundException or FileNotFoundException or FormatException or ArgumentException or IOException)
        {
            error.WriteLine("moelab report: " + e.Message);
            return 1;
        }
    }
}
