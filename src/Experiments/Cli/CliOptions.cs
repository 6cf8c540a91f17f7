using System.CommandLine;
using System.Globalization;
using MoeLab.Experiments.Runtime;
using Spectre.Console;

namespace MoeLab.Experiments.Cli;

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
