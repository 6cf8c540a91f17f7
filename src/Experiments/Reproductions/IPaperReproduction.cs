using System.Reflection;
using System.Text.Json.Nodes;
using MoeLab.Experiments.Results;
using MoeLab.Experiments.Runtime;
using Plotly.NET;

namespace MoeLab.Experiments.Reproductions;

/// <summary>One of the paper's figures, as we draw it from saved runs. <see cref="Build"/> returns null
/// when the runs hold no data for it (e.g. a study that was switched off); it may throw
/// <see cref="ArgumentException"/>/<see cref="IOException"/> naming what is missing.</summary>
public sealed record PaperFigure(string Name, string Caption, Func<ResultSet, GenericChart?> Build);

/// <summary>What a reproduction declares once, for the report (<c>moelab report</c>), the camera-ready
/// export (<c>moelab figures</c>), <c>moelab table</c> and the notebooks: the paper's claims with how
/// our numbers are computed, the paper's figures, and the summary columns worth showing. Implement it
/// as a public class with a parameterless constructor in the paper's folder; it is found by
/// <see cref="PaperReproductions.For"/> through the experiment names in <see cref="Experiments"/>.</summary>
public interface IPaperReproduction
{
    /// <summary>The paper, for headings: "Theory on MoE in continual learning (arXiv 2406.16437)".</summary>
    string Paper { get; }

    /// <summary>Experiment names (<see cref="IExperiment.Name"/>) this reproduction covers.</summary>
    IReadOnlyList<string> Experiments { get; }

    /// <summary>The paper's claims, in the order of the table.</summary>
    IReadOnlyList<ClaimDeclaration> Claims { get; }

    /// <summary>The paper's figures, in the order of the report.</summary>
    IReadOnlyList<PaperFigure> Figures { get; }

    /// <summary>Summary metrics for tables and charts (the rest — bookkeeping such as steps, parameter
    /// counts, config echoes — stays in summary.csv). Null: <see cref="PaperReproductions.DefaultSummaryColumns"/>.</summary>
    IReadOnlyList<string>? SummaryColumns { get; }
}

/// <summary>Finds reproductions and evaluates them on runs.</summary>
public static class PaperReproductions
{
    static readonly Lazy<IReadOnlyList<IPaperReproduction>> all = new(() => Discover(typeof(PaperReproductions).Assembly));

    /// <summary>Every reproduction in this assembly.</summary>
    public static IReadOnlyList<IPaperReproduction> All => all.Value;

    public static IReadOnlyList<IPaperReproduction> Discover(Assembly assembly) =>
        assembly.GetTypes()
            .Where(t => t is { IsClass: true, IsAbstract: false, IsPublic: true } && typeof(IPaperReproduction).IsAssignableFrom(t) && t.GetConstructor(Type.EmptyTypes) is not null)
            .Select(t => (IPaperReproduction)Activator.CreateInstance(t)!)
            .OrderBy(r => r.Paper, StringComparer.Ordinal)
            .ToList();

    /// <summary>The reproduction covering <paramref name="experiment"/>, or null.</summary>
    public static IPaperReproduction? For(string experiment) => All.FirstOrDefault(r => r.Experiments.Contains(experiment, StringComparer.Ordinal));

    /// <summary>Evaluates every declared claim on <paramref name="runs"/>. A claim whose evaluation
    /// fails for missing data (argument, IO, format or key errors) is "not tested" with the reason.</summary>
    public static IReadOnlyList<PaperClaim> EvaluateClaims(IPaperReproduction reproduction, ResultSet runs) =>
        reproduction.Claims.Select(c =>
        {
            ClaimOutcome outcome;
            try { outcome = c.Evaluate(runs); }
            catch (Exception e) when (e is ArgumentException or IOException or FormatException or KeyNotFoundException or InvalidOperationException)
            {
                outcome = ClaimOutcome.NotTested("could not be measured from these runs: " + e.Message.ReplaceLineEndings(" "));
            }
            return new PaperClaim(c.Id, c.Claim, c.PaperNumber, c.OurMeasure, outcome.Ours, outcome.Verdict, outcome.Note);
        }).ToList();

    /// <summary>Builds every declared figure on <paramref name="runs"/>: (figure, chart or null, problem or null).</summary>
    public static IReadOnlyList<(PaperFigure Figure, GenericChart? Chart, string? Problem)> BuildFigures(IPaperReproduction reproduction, ResultSet runs) =>
        reproduction.Figures.Select(f =>
        {
            try { return (f, f.Build(runs), (string?)null); }
            catch (Exception e) when (e is ArgumentException or IOException or FormatException or KeyNotFoundException or InvalidOperationException)
            {
                return (f, (GenericChart?)null, $"{f.Name}: {e.Message.ReplaceLineEndings(" ")}");
            }
        }).ToList();

    /// <summary>Summary metrics minus bookkeeping: no parameter counts, steps, rounds, repetitions,
    /// expert counts, wall times, seeds, and no "&lt;x&gt;_std" column when "&lt;x&gt;_mean" exists (its spread is shown with it).</summary>
    public static IReadOnlyList<string> DefaultSummaryColumns(ResultSet runs)
    {
        var metrics = runs.MetricColumns;
        var bookkeeping = new[] { "steps", "step", "total_params", "active_params", "params", "rounds", "repetitions", "experts", "wall_seconds", "seed", "epochs", "tokens_seen" };
        return metrics.Where(m => !bookkeeping.Contains(m, StringComparer.Ordinal)
                                  && !m.EndsWith("_params", StringComparison.Ordinal)
                                  && !m.EndsWith("_seconds", StringComparison.Ordinal)
                                  && !(m.EndsWith("_std", StringComparison.Ordinal) && metrics.Contains(m[..^4] + "_mean")))
            .ToList();
    }

    /// <summary>The summary columns of <paramref name="experiment"/>: the reproduction's, else the default.
    /// Declared columns missing from the runs are left out.</summary>
    public static IReadOnlyList<string> SummaryColumns(string experiment, ResultSet runs) =>
        For(experiment)?.SummaryColumns is { } declared ? declared.Where(runs.MetricColumns.Contains).ToList() : DefaultSummaryColumns(runs);

    /// <summary>The runs a reproduction's claims and figures use: the completed runs of one config (seeds
    /// aside). Chosen: the config of the largest preset (paper, then cpu, then smoke, then any other),
    /// then the one with most completed runs, then the newest. Claims pool only these runs, so a smoke
    /// run never mixes with a cpu run. Null when no run completed.</summary>
    public static ResultSet? MainConfigRuns(ResultSet runs)
    {
        var completed = runs.Records.Where(r => r.IsCompleted).ToList();
        if (completed.Count == 0) return null;
        static int PresetRank(string? p) => p switch { "paper" => 0, "cpu" => 1, "smoke" => 2, _ => 3 };
        var best = completed.GroupBy(r => (r.Preset, Config: ConfigWithoutSeeds(r.ConfigJson)))
            .OrderBy(g => PresetRank(g.Key.Preset))
            .ThenByDescending(g => g.Count())
            .ThenByDescending(g => g.Max(r => r.EndedAt ?? ""), StringComparer.Ordinal)
            .First();
        return ResultSet.Load(best.Select(r => r.Directory).ToList());
    }

    /// <summary>A one-line description of which runs <see cref="MainConfigRuns"/> chose.</summary>
    public static string DescribeMainConfig(ResultSet main)
    {
        var seeds = main.Records.Select(r => r.Seed?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?").ToList();
        string preset = main.Records.Select(r => r.Preset).FirstOrDefault() ?? "?";
        return $"{main.Records.Count} completed run(s) of one config, preset '{preset}', seed(s) {string.Join(", ", seeds)}";
    }

    /// <summary>The config JSON with every property named "seed" removed: runs that differ only by seed share it.</summary>
    public static string ConfigWithoutSeeds(string? configJson)
    {
        if (configJson is null) return "";
        var node = JsonNode.Parse(configJson);
        void Strip(JsonNode? n)
        {
            if (n is JsonObject o)
            {
                foreach (var key in o.Select(p => p.Key).Where(k => k.Equals("seed", StringComparison.OrdinalIgnoreCase)).ToList()) o.Remove(key);
                foreach (var p in o) Strip(p.Value);
            }
            else if (n is JsonArray a) foreach (var item in a) Strip(item);
        }
        Strip(node);
        return node?.ToJsonString() ?? "";
    }

    /// <summary>tables/&lt;name&gt;.csv of every completed run that saved it, with its run.</summary>
    public static IReadOnlyList<(RunRecord Run, Microsoft.Data.Analysis.DataFrame Table)> Tables(ResultSet runs, string name) =>
        runs.Records.Where(r => r.IsCompleted)
            .Select(r => (Run: r, Path: Path.Combine(r.TablesDirectory, name + ".csv")))
            .Where(x => File.Exists(x.Path))
            .Select(x => (x.Run, FrameIO.LoadCsv(x.Path)))
            .ToList();
}
