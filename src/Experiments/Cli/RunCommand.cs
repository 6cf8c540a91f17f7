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

/// <summary>Options and output shared by run, sweep, list and lab.</summary>
internal static class CliOptions
{
    public static Argument<string?> ExperimentArgument(bool required) => new("experiment")
    {
        Description = "Experiment name (see `moelab list`).",
        Arity = required ? ArgumentArity.ExactlyOne : ArgumentArity.ZeroOrOne,
    };

    public static Option<string> Preset(string defaultPreset = "smoke") => new("--preset", "-p")
    {
        Description = "Preset to start from: smoke (seconds), cpu (minutes on a laptop), paper (the paper's scale, GPU).",
        DefaultValueFactory = _ => defaultPreset,
    };

    public static Option<string[]> Set() => new("--set", "-s")
    {
        Description = "Override one config key, repeatable: --set model.experts=16 --set train.lr=3e-4 " +
                      "(lists: model.hiddenSizes=[32,32]; enums by name; null for optional keys).",
        AllowMultipleArgumentsPerToken = false,
    };

    public static Option<string?> ConfigFile() => new("--config", "-c")
    {
        Description = "JSON or YAML file of overrides (nested or dotted keys), applied before --set.",
    };

    public static Option<string?> Seeds() => new("--seeds")
    {
        Description = "A count (3 → seeds base, base+1, base+2) or a list (1,7,42; one explicit seed: 42,). Default: one seed, the base.",
    };

    public static Option<long> SeedBase() => new("--seed-base")
    {
        Description = "First seed when --seeds is a count.",
        DefaultValueFactory = _ => 0,
    };

    public static Option<string> Device() => new("--device", "-d")
    {
        Description = "auto (CUDA when available), cpu, cuda or cuda:N.",
        DefaultValueFactory = _ => "auto",
    };

    public static Option<string?> Results() => new("--results", "-r")
    {
        Description = "Results root (default: $MOELAB_RESULTS, else <repo>/results).",
    };

    public static string ResultsRoot(string? given) => given is null ? RunLayout.DefaultResultsRoot() : Path.GetFullPath(given);

    /// <summary>Runs a command body; bad input → "error: ..." on stderr and exit code 2.</summary>
    public static int Guard(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (ConfigException e)
        {
            Console.Error.WriteLine("error: " + e.Message);
            Console.Error.WriteLine("Nothing was run. See `moelab list <experiment>` for keys, types and presets.");
            return 2;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or IOException or InvalidDataException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine("error: " + e.Message);
            return 2;
        }
    }

    /// <summary>0 when everything completed; 1 when a run failed; when a run was interrupted by a
    /// signal, the shell's convention for that signal (SIGINT → 130, SIGTERM → 143; 130 when unknown).</summary>
    public static int ExitCode(IEnumerable<string> statuses, CancelOnSignal? signals = null)
    {
        var s = statuses.ToList();
        if (s.Any(x => x == RunLayout.Status.Failed)) return 1;
        if (s.Any(x => x is RunLayout.Status.Interrupted or "pending")) return signals?.ExitCode ?? 130;
        return 0;
    }

    public static void PrintOutcomes(IReadOnlyList<RunOutcome> outcomes)
    {
        if (outcomes.Count == 0) return;
        var metrics = HeadlineMetrics(outcomes.SelectMany(o => o.Summary));
        var table = new Table().Border(TableBorder.Rounded).AddColumns("seed", "status", "arm");
        foreach (var m in metrics) table.AddColumn(new TableColumn(Markup.Escape(m)).RightAligned());
        table.AddColumn("run id");
        foreach (var o in outcomes)
            foreach (var row in ArmsOf(o.Summary))
                table.AddRow(new[] { o.Seed.ToString(CultureInfo.InvariantCulture), StatusMarkup(o.Status), Markup.Escape(row?.Arm ?? "") }
                    .Concat(metrics.Select(m => row is not null && row.Values.TryGetValue(m, out var v) ? Number(v) : ""))
                    .Append(Markup.Escape(o.RunId)).ToArray());
        AnsiConsole.Write(table);
        foreach (string parent in outcomes.Select(o => Path.GetDirectoryName(o.RunDirectory)!).Distinct())
            AnsiConsole.MarkupLine(Markup.Escape($"Runs in {parent}"));
        foreach (var o in outcomes.Where(o => o.Error is not null))
            AnsiConsole.MarkupLine($"{StatusMarkup(o.Status)} seed {o.Seed}: {Markup.Escape(o.Error!)}");
    }

    public static IEnumerable<SummaryRow?> ArmsOf(IReadOnlyList<SummaryRow> summary) =>
        summary.Count == 0 ? new SummaryRow?[] { null } : summary.Cast<SummaryRow?>();

    /// <summary>Up to <paramref name="max"/> metric names, in first-seen order.</summary>
    public static List<string> HeadlineMetrics(IEnumerable<SummaryRow> rows, int max = 4) =>
        rows.SelectMany(r => r.Values.Keys).Distinct().Take(max).ToList();

    public static string Number(double v) => Markup.Escape(HumanNumber.Format(v, "G5"));

    public static string StatusMarkup(string status) => status switch
    {
        RunLayout.Status.Completed => "[green]completed[/]",
        RunLayout.Status.Failed => "[red]failed[/]",
        RunLayout.Status.Interrupted => "[yellow]interrupted[/]",
        _ => Markup.Escape(status),
    };
}
