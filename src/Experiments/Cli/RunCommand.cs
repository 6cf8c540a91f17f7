using System.CommandLine;
using System.Globalization;
using MoeLab.Experiments.Runtime;
using Spectre.Console;

namespace MoeLab.Experiments.Cli;

/// <summary>`moelab run &lt;experiment&gt;`: one run per seed, or `--resume &lt;run-dir&gt;`.</summary>
public static class RunCommand
{
    public static Command Create()
    {
        var experiment = CliOptions.ExperimentArgument(required: false);
        var preset = CliOptions.Preset();
        var set = CliOptions.Set();
        var config = CliOptions.ConfigFile();
        var seeds = CliOptions.Seeds();
        var seedBase = CliOptions.SeedBase();
        var device = CliOptions.Device();
        var results = CliOptions.Results();
        var resume = new Option<string?>("--resume")
        {
            Description = "Continue an interrupted run from its checkpoint: the run directory (results/<experiment>/<run-id>). " +
                          "Uses the config and seed stored in its manifest.",
        };
        var cmd = new Command("run", "Run an experiment once per seed; results go to results/<experiment>/<run-id>/. " +
                                     "Ctrl+C or SIGTERM checkpoints and marks the run interrupted; continue it with --resume.")
        {
            experiment, preset, set, config, seeds, seedBase, device, results, resume,
        };
        cmd.SetAction(pr => CliOptions.Guard(() =>
        {
            string? resumeDir = pr.GetValue(resume);
            var options = new RunOptions { ResultsRoot = CliOptions.ResultsRoot(pr.GetValue(results)), Device = pr.GetValue(device) ?? "auto" };
            using var signals = new CancelOnSignal(Console.Error);
            options = options with { Cancellation = signals.Token, StopReason = () => signals.Received };
            var outcomes = new List<RunOutcome>();
            if (resumeDir is not null)
            {
                if (pr.GetValue(set) is { Length: > 0 } || pr.GetValue(config) is not null || pr.GetValue(seeds) is not null)
                    throw new ConfigException("--resume continues a run with the config and seed stored in its manifest; drop --set, --config and --seeds.");
                var m = RunManifest.Read(resumeDir);
                string? name = pr.GetValue(experiment);
                if (name is not null && !string.Equals(name, m.Experiment, StringComparison.OrdinalIgnoreCase))
                    throw new ConfigException($"--resume '{resumeDir}' is a run of '{m.Experiment}', not '{name}'.");
                AnsiConsole.MarkupLine(Markup.Escape($"Resuming {m.Experiment} run {m.RunId} (status {m.Status}, seed {m.Seed})"));
                outcomes.Add(ConsoleProgress.Run($"{m.Experiment} s{m.Seed}", p => ExperimentRunner.Resume(resumeDir, options with { Progress = p })));
            }
            else
            {
                string name = pr.GetValue(experiment)
                              ?? throw new ConfigException("Name an experiment (see `moelab list`), or give --resume <run-dir>.");
                var exp = ExperimentRegistry.Get(name);
                var resolved = ConfigBinder.Resolve(exp, pr.GetValue(preset)!, pr.GetValue(config), pr.GetValue(set) ?? []);
                var seedList = SeedList.Parse(pr.GetValue(seeds), pr.GetValue(seedBase));
                foreach (long seed in seedList)
                {
                    if (signals.Token.IsCancellationRequested)
                    {
                        AnsiConsole.MarkupLine(Markup.Escape($"Stopped: seed(s) {string.Join(", ", seedList.Skip(outcomes.Count))} not started."));
                        break;
                    }
                    outcomes.Add(ConsoleProgress.Run($"{exp.Name} s{seed}",
                        p => ExperimentRunner.Run(exp, resolved, seed, options with { Progress = p })));
                }
            }
            CliOptions.PrintOutcomes(outcomes);
            return CliOptions.ExitCode(outcomes.Select(o => o.Status), signals);
        }));
        return cmd;
    }
}
