using System.CommandLine;
using System.Globalization;
using System.Text;
using Microsoft.Data.Analysis;
using MoeLab.Experiments.Runtime;
using MoeLab.Models.Runtime;
using Plotly.NET;
using TorchSharp;

namespace MoeLab.Experiments.Papers.DynaMoE;

/// <summary><c>moelab dynamoe images|lm --preset cpu --seeds 0,1,2 [--out DIR] [--device auto]</c>:
/// runs the DynaMoE experiments seed by seed into results/&lt;experiment&gt;/&lt;preset&gt;-seed&lt;s&gt;/ in the
/// run layout of <see cref="RunLayout"/> (summary.csv, metrics.csv, tables/, figures/, log.txt).
/// A stop-gap until the runtime's generic <c>moelab run</c> is merged; it has no overrides or resume.</summary>
public static class DynaMoeCommand
{
    public static Command Create()
    {
        var cmd = new Command("dynamoe", "Run the DynaMoE reproduction (images or lm) for several seeds.");
        var which = new Argument<string>("experiment") { Description = "images or lm" };
        var preset = new Option<string>("--preset") { Description = "smoke, cpu or paper", DefaultValueFactory = _ => "smoke" };
        var seeds = new Option<string>("--seeds") { Description = "comma-separated seeds", DefaultValueFactory = _ => "0" };
        var output = new Option<string?>("--out") { Description = "results root (default: the repository's results/)" };
        var device = new Option<string>("--device") { Description = "auto, cpu, cuda", DefaultValueFactory = _ => "auto" };
        cmd.Arguments.Add(which);
        cmd.Options.Add(preset); cmd.Options.Add(seeds); cmd.Options.Add(output); cmd.Options.Add(device);
        cmd.SetAction(parse =>
        {
            IExperiment experiment = parse.GetValue(which) switch
            {
                "images" => new DynaMoeImagesExperiment(),
                "lm" => new DynaMoeLmExperiment(),
                var other => throw new ArgumentException($"experiment '{other}': expected images or lm."),
            };
            string presetName = parse.GetValue(preset)!;
            string root = parse.GetValue(output) ?? RunLayout.DefaultResultsRoot();
            var seedList = parse.GetValue(seeds)!.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s => long.Parse(s, CultureInfo.InvariantCulture));
            RunSeeds(experiment, presetName, seedList, root, parse.GetValue(device));
            return 0;
        });
        return cmd;
    }

    /// <summary>Runs <paramref name="experiment"/>'s preset once per seed into
    /// &lt;root&gt;/&lt;experiment&gt;/&lt;preset&gt;-seed&lt;s&gt;/; returns the run directories.</summary>
    public static IReadOnlyList<string> RunSeeds(IExperiment experiment, string preset, IEnumerable<long> seeds, string root, string? device = "auto")
    {
        if (!experiment.Presets.TryGetValue(preset, out var config))
            throw new ArgumentException($"preset '{preset}': expected one of {string.Join(", ", experiment.Presets.Keys)}.");
        var problems = experiment.Validate(config);
        if (problems.Count > 0) throw new ArgumentException(string.Join(Environment.NewLine, problems));
        var dev = TorchDevice.Resolve(device);
        var dirs = new List<string>();
        foreach (long seed in seeds)
        {
            string dir = Path.Combine(root, experiment.Name, $"{preset}-seed{seed}");
            var context = new DirectoryRunContext(experiment.Name, preset, seed, dev, dir);
            TorchDevice.Seed(seed);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            experiment.Run(config, context);
            context.Finish(clock.Elapsed.TotalSeconds);
            Console.WriteLine($"{experiment.Name} seed {seed}: done in {clock.Elapsed.TotalSeconds:F0} s → {dir}");
            dirs.Add(dir);
        }
        return dirs;
    }
}

/// <summary>Minimal file-backed RunContext writing <see cref="RunLayout"/>'s files (summary.csv, metrics.csv,
/// tables/*.csv, figures/*.html, log.txt), each atomically at the end of the run.</summary>
internal sealed class DirectoryRunContext(string experiment, string preset, long seed, torch.Device device, string directory) : RunContext
{
    private readonly StringBuilder metrics = new("step,arm,metric,value\n");
    private readonly List<(string Arm, IReadOnlyDictionary<string, double> Values, IReadOnlyDictionary<string, string> Labels)> summary = new();
    private readonly StringBuilder log = new();

    public override string ExperimentName => experiment;
    public override string Preset => preset;
    public override long Seed => seed;
    public override torch.Device Device => device;
    public override CancellationToken Cancellation => CancellationToken.None;
    public override string? RunDirectory => directory;
    public override ICheckpointStore Checkpoints => throw new NotSupportedException("checkpoints need the runtime's `moelab run`.");

    public override void LogMetrics(long step, IReadOnlyDictionary<string, double> values, string arm = "main")
    {
        foreach (var (k, v) in values) metrics.Append(CultureInfo.InvariantCulture, $"{step},{arm},{k},{v:R}\n");
    }

    public override void LogSummary(string arm, IReadOnlyDictionary<string, double> values, IReadOnlyDictionary<string, string>? labels = null)
    {
        summary.RemoveAll(s => s.Arm == arm);
        summary.Add((arm, values, labels ?? new Dictionary<string, string>()));
    }

    public override void SaveTable(string name, DataFrame table)
    {
        Directory.CreateDirectory(Path.Combine(directory, RunLayout.Tables));
        string path = Path.Combine(directory, RunLayout.Tables, name + ".csv");
        DataFrame.SaveCsv(table, path + ".tmp", cultureInfo: CultureInfo.InvariantCulture);
        File.Move(path + ".tmp", path, true);
    }

    public override void SaveFigure(string name, GenericChart chart)
    {
        Directory.CreateDirectory(Path.Combine(directory, RunLayout.Figures));
        Write(Path.Combine(directory, RunLayout.Figures, name + ".html"), Plotting.ChartPage.Html(chart, name));
    }

    public override void ReportProgress(string phase, long step, long total, double? loss = null)
    {
        if (step == total || step % 200 == 0) Console.WriteLine($"  {phase}: step {step}/{total}" + (loss is double l ? $", loss {l:F4}" : ""));
    }

    public override void Log(string message)
    {
        log.Append(DateTime.UtcNow.ToString("HH:mm:ss", CultureInfo.InvariantCulture)).Append(' ').AppendLine(message);
        Console.WriteLine(message);
    }

    public void Finish(double seconds)
    {
        Directory.CreateDirectory(directory);
        Write(Path.Combine(directory, RunLayout.Metrics), metrics.ToString());
        var labelKeys = summary.SelectMany(s => s.Labels.Keys).Distinct().ToList();
        var valueKeys = summary.SelectMany(s => s.Values.Keys).Distinct().ToList();
        var csv = new StringBuilder(string.Join(",", new[] { "arm" }.Concat(labelKeys).Concat(valueKeys))).Append('\n');
        foreach (var (arm, values, labels) in summary)
            csv.AppendJoin(",", new[] { arm }.Concat(labelKeys.Select(k => labels.TryGetValue(k, out var s) ? s : ""))
                .Concat(valueKeys.Select(k => values.TryGetValue(k, out var v) && double.IsFinite(v) ? v.ToString("R", CultureInfo.InvariantCulture) : "")))
               .Append('\n');
        Write(Path.Combine(directory, RunLayout.Summary), csv.ToString());
        Log($"finished in {seconds:F1} s");
        Write(Path.Combine(directory, RunLayout.Log), log.ToString());
    }

    private static void Write(string path, string text)
    {
        File.WriteAllText(path + ".tmp", text);
        File.Move(path + ".tmp", path, true);
    }
}
