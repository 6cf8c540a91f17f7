using System.CommandLine;
using System.Globalization;
using MoeLab.Experiments.Runtime;
using Spectre.Console;

namespace MoeLab.Experiments.Cli;

/// <summary>`moelab sweep &lt;experiment&gt; --grid key=v1,v2 ... --seeds N`.</summary>
public static class SweepCommand
{
    public static Command Create()
    {
        var experiment = CliOptions.ExperimentArgument(required: true);
        var preset = CliOptions.Preset();
        var set = CliOptions.Set();
        var config = CliOptions.ConfigFile();
        var seeds = CliOptions.Seeds();
        var seedBase = CliOptions.SeedBase();
        var device = CliOptions.Device();
        var results = CliOptions.Results();
        var grid = new Option<string[]>("--grid", "-g")
        {
            Description = "One grid axis, repeatable: --grid model.experts=4,8 --grid train.lr=1e-3,3e-3. " +
                          "Separate list values with ';': --grid model.hiddenSizes=[8,8];[16].",
            AllowMultipleArgumentsPerToken = false,
        };
        var cmd = new Command("sweep", "Run the Cartesian product of --grid axes × --seeds under results/<experiment>/sweep-<hash>/. " +
                                       "Re-running skips completed runs, resumes interrupted ones and retries failed ones; " +
                                       "a failed run does not stop the others. Ends with a summary table.")
        {
            experiment, preset, set, config, grid, seeds, seedBase, device, results,
        };
        cmd.SetAction(pr => CliOptions.Guard(() =>
        {
            var exp = ExperimentRegistry.Get(pr.GetValue(experiment)!);
            var axes = (pr.GetValue(grid) ?? []).Select(GridAxis.Parse).ToList();
            var seedList = SeedList.Parse(pr.GetValue(seeds), pr.GetValue(seedBase));
            using var signals = new CancelOnSignal(Console.Error);
            var options = new RunOptions
            {
                ResultsRoot = CliOptions.ResultsRoot(pr.GetValue(results)),
                Device = pr.GetValue(device) ?? "auto",
                Cancellation = signals.Token,
                StopReason = () => signals.Received,
            };
            var result = SweepRunner.Run(exp, pr.GetValue(preset)!, pr.GetValue(config), pr.GetValue(set) ?? [], axes, seedList, options,
                (label, body) => ConsoleProgress.Run(label, body));
            PrintSweep(result);
            return CliOptions.ExitCode(result.Runs.Select(r => r.Status), signals);
        }));
        return cmd;
    }

    public static void PrintSweep(SweepResult result)
    {
        var metrics = CliOptions.HeadlineMetrics(result.Runs.SelectMany(r => r.Summary));
        var table = new Table().Border(TableBorder.Rounded)
            .Title(Markup.Escape($"{result.SweepId}: {result.Runs.Count} runs"))
            .AddColumns("config point", "seed", "status", "this time", "arm");
        foreach (var m in metrics) table.AddColumn(new TableColumn(Markup.Escape(m)).RightAligned());
        table.AddColumn("run id");
        foreach (var r in result.Runs)
            foreach (var row in CliOptions.ArmsOf(r.Summary))
                table.AddRow(new[]
                    {
                        Markup.Escape(r.Point), r.Seed.ToString(CultureInfo.InvariantCulture), CliOptions.StatusMarkup(r.Status),
                        Markup.Escape(r.Action), Markup.Escape(row?.Arm ?? ""),
                    }
                    .Concat(metrics.Select(m => row is not null && row.Values.TryGetValue(m, out var v) ? CliOptions.Number(v) : ""))
                    .Append(Markup.Escape(r.RunId)).ToArray());
        AnsiConsole.Write(table);
        foreach (var r in result.Runs.Where(r => r.Error is not null))
            AnsiConsole.MarkupLine($"{CliOptions.StatusMarkup(r.Status)} {Markup.Escape(r.Point)} seed {r.Seed}: {Markup.Escape(r.Error!)}");
        var counts = result.Runs.GroupBy(r => r.Status).Select(g => $"{g.Count()} {g.Key}");
        AnsiConsole.MarkupLine(Markup.Escape($"{string.Join(", ", counts)}. Runs in {result.Directory}"));
    }
}
