using System.CommandLine;
using MoeLab.Experiments.Runtime;
using Spectre.Console;

namespace MoeLab.Experiments.Cli;

/// <summary>`moelab lab`: the lab's main job. Runs every registered experiment (except those
/// marked [ExcludeFromLab], e.g. the runtime's test experiment) at its smoke preset, then builds
/// the reports by calling `moelab report &lt;experiment&gt;` for each — THE single call site of the
/// report builder (see <see cref="BuildReports"/>).</summary>
public static class LabCommand
{
    public static Command Create()
    {
        var preset = CliOptions.Preset("smoke");
        var seeds = CliOptions.Seeds();
        var device = CliOptions.Device();
        var results = CliOptions.Results();
        var noReport = new Option<bool>("--no-report") { Description = "Only run the experiments; skip the reports." };
        var cmd = new Command("lab", "The lab's main job: run every registered reproduction at its smoke preset, then write the reports.")
        {
            preset, seeds, device, results, noReport,
        };
        cmd.SetAction(pr => CliOptions.Guard(() =>
        {
            string root = CliOptions.ResultsRoot(pr.GetValue(results));
            var experiments = ExperimentRegistry.ForLab;
            if (experiments.Count == 0)
            {
                AnsiConsole.MarkupLine("No paper experiments are registered yet (only runtime test experiments). Nothing to run.");
                return 0;
            }
            var seedList = SeedList.Parse(pr.GetValue(seeds));
            using var signals = new CancelOnSignal(Console.Error);
            var options = new RunOptions { ResultsRoot = root, Device = pr.GetValue(device) ?? "auto", Cancellation = signals.Token, StopReason = () => signals.Received };
            // Validate every experiment's preset before running anything.
            var resolved = experiments.Select(e => (Experiment: e, Config: ConfigBinder.Resolve(e, pr.GetValue(preset)!))).ToList();
            var statuses = new List<string>();
            var ran = new List<string>();
            foreach (var (exp, cfg) in resolved)
            {
                AnsiConsole.MarkupLine($"[bold]{Markup.Escape(exp.Name)}[/] ({Markup.Escape(cfg.Preset)})");
                var outcomes = new List<RunOutcome>();
                foreach (long seed in seedList)
                {
                    if (signals.Token.IsCancellationRequested) break;
                    outcomes.Add(ConsoleProgress.Run($"{exp.Name} s{seed}", p => ExperimentRunner.Run(exp, cfg, seed, options with { Progress = p })));
                }
                CliOptions.PrintOutcomes(outcomes);
                statuses.AddRange(outcomes.Select(o => o.Status));
                if (outcomes.Any(o => o.Completed)) ran.Add(exp.Name);
            }
            int code = CliOptions.ExitCode(statuses, signals);
            if (!pr.GetValue(noReport) && !signals.Token.IsCancellationRequested)
            {
                int reportCode = BuildReports(ran, root);
                if (code == 0) code = reportCode;
            }
            return code;
        }));
        return cmd;
    }

    /// <summary>Writes one report per experiment (the same builder and console output as
    /// `moelab report`); the worst exit code wins (0 all fine, 1 some runs skipped, 2 bad input).</summary>
    public static int BuildReports(IReadOnlyList<string> experiments, string resultsRoot, TextWriter? output = null, TextWriter? error = null)
    {
        int code = 0;
        foreach (string name in experiments)
            code = Math.Max(code, ReportCommand.Run(name, resultsRoot, null, output ?? Console.Out, error ?? Console.Error));
        return code;
    }
}
