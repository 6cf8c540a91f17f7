using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using MoeLab.Experiments.Cluster;
using MoeLab.Experiments.Runtime;
using Spectre.Console;

namespace MoeLab.Experiments.Cli;

/// <summary>`moelab sweep-status &lt;sweep-dir&gt; [--json]`: each index's state from the results
/// layout (completed, failed, interrupted, running = its run lock is held, crashed = the manifest says
/// running but nobody holds the lock, pending) joined with Slurm's view of the recorded jobs
/// (squeue, and sacct where the cluster keeps accounting), then counts and a table.</summary>
public static class SweepStatusCommand
{
    public static Command Create()
    {
        var sweepDir = new Argument<string>("sweep-dir") { Description = "The sweep directory (results/<experiment>/sweep-<hash>)." };
        var json = new Option<bool>("--json") { Description = "Print the status as JSON (one object: sweep, counts, tasks, notes)." };
        var cmd = new Command("sweep-status", "Show each index of a sweep: its run's state (completed/failed/interrupted/running/crashed/pending) " +
                                        "and the scheduler's state of its array task.")
        {
            sweepDir, json,
        };
        cmd.SetAction(pr => CliOptions.Guard(() =>
        {
            var report = SweepStatusReport.Read(pr.GetValue(sweepDir)!, new SlurmClient());
            if (pr.GetValue(json)) Console.WriteLine(ToJson(report).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            else Print(report);
            return 0;
        }));
        return cmd;
    }

    public static void Print(SweepStatusReport report)
    {
        AnsiConsole.MarkupLine(Markup.Escape($"{report.Sweep} ({report.Experiment}): {report.Counts()}"));
        foreach (var j in report.Jobs)
            AnsiConsole.MarkupLine(Markup.Escape($"  {j.Backend} job {j.JobId} ({j.Kind} {j.SubmittedAt.ToLocalTime():yyyy-MM-dd HH:mm:ss}): indices {j.Indices}"));
        var table = new Table().Border(TableBorder.Rounded).AddColumns("index", "config point", "seed", "state", "scheduler", "run id", "note");
        foreach (var i in report.Indices)
            table.AddRow(i.Index.ToString(CultureInfo.InvariantCulture), Markup.Escape(i.Point), i.Seed.ToString(CultureInfo.InvariantCulture),
                StateMarkup(i.State), Markup.Escape(i.Scheduler?.ToString() ?? (i.Job is null ? "" : $"{i.Job.JobId}_{i.Index} (not known to Slurm now)")),
                Markup.Escape(i.RunId), Markup.Escape(Shorten(i.Error)));
        AnsiConsole.Write(table);
        foreach (string n in report.Notes) AnsiConsole.MarkupLine(Markup.Escape("note: " + n));
        int again = report.Indices.Count(i => i.NeedsResubmit);
        if (again > 0 && report.Jobs.Count > 0)
            AnsiConsole.MarkupLine(Markup.Escape($"{again} index(es) need another try: moelab sweep-resubmit {report.Directory}"));
        AnsiConsole.MarkupLine(Markup.Escape($"Runs in {report.Directory}"));
    }

    public static JsonObject ToJson(SweepStatusReport report) => new()
    {
        ["sweep"] = report.Sweep,
        ["experiment"] = report.Experiment,
        ["directory"] = report.Directory,
        ["counts"] = new JsonObject(report.Indices.GroupBy(i => i.State).Select(g => KeyValuePair.Create(g.Key, (JsonNode?)g.Count()))),
        ["jobs"] = new JsonArray(report.Jobs.Select(j => (JsonNode?)new JsonObject
        {
            ["backend"] = j.Backend, ["jobId"] = j.JobId, ["kind"] = j.Kind, ["indices"] = j.Indices, ["script"] = j.Script,
        }).ToArray()),
        ["tasks"] = new JsonArray(report.Indices.Select(i => (JsonNode?)new JsonObject
        {
            ["index"] = i.Index,
            ["point"] = i.Point,
            ["seed"] = i.Seed,
            ["runId"] = i.RunId,
            ["state"] = i.State,
            ["error"] = i.Error,
            ["jobId"] = i.Job?.JobId,
            ["scheduler"] = i.Scheduler is null ? null : new JsonObject
            {
                ["state"] = i.Scheduler.State, ["reason"] = i.Scheduler.Reason, ["source"] = i.Scheduler.Source,
            },
            ["needsResubmit"] = i.NeedsResubmit,
        }).ToArray()),
        ["notes"] = new JsonArray(report.Notes.Select(n => (JsonNode?)n).ToArray()),
    };

    private static string StateMarkup(string state) => state switch
    {
        SweepIndexStatus.Crashed => "[red]crashed[/]",
        RunLayout.Status.Running => "[blue]running[/]",
        _ => CliOptions.StatusMarkup(state),
    };

    private static string Shorten(string? text) => text is null ? "" : text.Length <= 90 ? text : text[..87] + "...";
}
