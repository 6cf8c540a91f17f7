using System.CommandLine;
using System.Text.Json.Nodes;
using MoeLab.Experiments.Runtime;
using Spectre.Console;

namespace MoeLab.Experiments.Cli;

/// <summary>`moelab list [experiment] [--preset p] [--set ...]`.</summary>
public static class ListCommand
{
    public static Command Create()
    {
        var experiment = CliOptions.ExperimentArgument(required: false);
        var preset = new Option<string?>("--preset", "-p")
        {
            Description = "With an experiment: print that preset's resolved config as JSON (after --config/--set), without running anything.",
        };
        var set = CliOptions.Set();
        var config = CliOptions.ConfigFile();
        var cmd = new Command("list", "List registered experiments and their presets; with an experiment, its config keys; " +
                                      "with --preset, the resolved config as JSON (a dry run of the overrides).")
        {
            experiment, preset, set, config,
        };
        cmd.SetAction(pr => CliOptions.Guard(() =>
        {
            string? name = pr.GetValue(experiment);
            if (name is null)
            {
                ListAll();
                return 0;
            }
            var exp = ExperimentRegistry.Get(name);
            string? p = pr.GetValue(preset);
            if (p is not null || pr.GetValue(set) is { Length: > 0 } || pr.GetValue(config) is not null)
            {
                var resolved = ConfigBinder.Resolve(exp, p ?? "smoke", pr.GetValue(config), pr.GetValue(set) ?? []);
                Console.Out.WriteLine(resolved.Json);
                return 0;
            }
            Describe(exp);
            return 0;
        }));
        return cmd;
    }

    private static void ListAll()
    {
        var table = new Table().Border(TableBorder.Rounded).AddColumns("experiment", "description", "presets", "in `lab`");
        var lab = ExperimentRegistry.ForLab.ToHashSet();
        foreach (var e in ExperimentRegistry.All)
            table.AddRow(Markup.Escape(e.Name), Markup.Escape(e.Description), Markup.Escape(string.Join(", ", e.Presets.Keys)),
                lab.Contains(e) ? "yes" : "no");
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine(Markup.Escape("Details: moelab list <experiment>; resolved config: moelab list <experiment> --preset cpu"));
    }

    private static void Describe(IExperiment exp)
    {
        AnsiConsole.MarkupLine($"[bold]{Markup.Escape(exp.Name)}[/]: {Markup.Escape(exp.Description)}");
        var presets = exp.Presets.ToDictionary(kv => kv.Key, kv => JsonNode.Parse(ConfigBinder.ToJson(kv.Value)));
        var table = new Table().Border(TableBorder.Rounded).AddColumns("key", "type");
        foreach (var p in presets.Keys) table.AddColumn(Markup.Escape(p));
        var types = KeyTypes(exp.ConfigType);
        foreach (string key in ConfigKeys.Keys(exp.ConfigType))
        {
            var cells = new List<string> { Markup.Escape(key), Markup.Escape(types.GetValueOrDefault(key, "")) };
            foreach (var (_, json) in presets)
            {
                JsonNode? node = json;
                foreach (string seg in key.Split('.')) node = node?[seg];
                cells.Add(Markup.Escape(node?.ToJsonString().Trim('"') ?? "null"));
            }
            table.AddRow(cells.ToArray());
        }
        AnsiConsole.Write(table);
    }

    private static Dictionary<string, string> KeyTypes(Type root)
    {
        var d = new Dictionary<string, string>();
        foreach (string key in ConfigKeys.Keys(root))
        {
            Type t = root;
            foreach (string seg in key.Split('.'))
                t = t.GetProperties().First(p => ConfigKeys.JsonKey(p) == seg).PropertyType;
            d[key] = ConfigValues.DescribeType(t);
        }
        return d;
    }
}
