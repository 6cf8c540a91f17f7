using System.CommandLine;
using System.Globalization;
using MoeLab.Experiments.Cluster;
using MoeLab.Experiments.Runtime;
using Spectre.Console;

namespace MoeLab.Experiments.Cli;

/// <summary>`moelab sweep &lt;experiment&gt; --grid key=v1,v2 ... --seeds N [--backend local|slurm|k8s]`.
/// A cluster sweep is followed with the top-level commands `moelab sweep-status &lt;sweep-dir&gt;` and
/// `moelab sweep-resubmit &lt;sweep-dir&gt;` (not subcommands of `sweep`: `sweep` takes the experiment
/// as its first argument, so `sweep status` would read like an experiment named "status"); its
/// tasks run `moelab sweep-task &lt;sweep-dir&gt; &lt;index&gt;`.</summary>
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
        var cluster = new ClusterCliOptions();
        var cmd = new Command("sweep", "Run the Cartesian product of --grid axes × --seeds under results/<experiment>/sweep-<hash>/. " +
                                       "Re-running skips completed runs, resumes interrupted ones and retries failed ones; " +
                                       "a failed run does not stop the others. Ends with a summary table. " +
                                       "--backend slurm submits one array job (one task per run); --backend k8s writes an Indexed Job. " +
                                       "`moelab sweep-status <sweep-dir>` and `moelab sweep-resubmit <sweep-dir>` follow a cluster sweep.")
        {
            experiment, preset, set, config, grid, seeds, seedBase, device, results,
        };
        foreach (var o in cluster.All) cmd.Options.Add(o);
        cmd.SetAction(pr => CliOptions.Guard(() =>
        {
            var exp = ExperimentRegistry.Get(pr.GetValue(experiment)!);
            var axes = (pr.GetValue(grid) ?? []).Select(GridAxis.Parse).ToList();
            var seedList = SeedList.Parse(pr.GetValue(seeds), pr.GetValue(seedBase));
            string backend = pr.GetValue(cluster.Backend)!;
            cluster.CheckFor(backend, pr);
            if (backend != "local")
            {
                // Cluster tasks get --device only when it was given (else each task picks: CUDA when its node has it).
                string? taskDevice = pr.GetResult(device) is { Implicit: false } ? pr.GetValue(device) : null;
                var plan = SweepPlan.Create(exp, pr.GetValue(preset)!, pr.GetValue(config), pr.GetValue(set) ?? [], axes, seedList,
                    CliOptions.ResultsRoot(pr.GetValue(results)));
                return backend == "slurm"
                    ? SubmitToSlurm(plan, new SlurmOptions(cluster.Resources(pr), pr.GetValue(cluster.Partition), pr.GetValue(cluster.SbatchArg), taskDevice),
                        pr.GetValue(cluster.DryRun))
                    : EmitKubernetes(plan, cluster, pr, taskDevice);
            }
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

    private static int SubmitToSlurm(SweepPlan plan, SlurmOptions options, bool dryRun)
    {
        var s = SlurmSweepSubmitter.Submit(plan, options, new SlurmClient(), MoelabInvocation.Current(), dryRun);
        if (s.Indices.Count == 0)
        {
            Console.WriteLine($"{s.SweepId}: nothing to submit; every run is completed or running ({s.LeftAlone.Count} run(s)). " +
                              $"See `moelab sweep-status {s.SweepDirectory}`.");
            return 0;
        }
        if (dryRun)
        {
            Console.Write(s.Script);
            Console.Error.WriteLine($"dry run: {s.SweepId} would be submitted as one array job with {s.Indices.Count} task(s) " +
                                    $"(indices {ArraySpec.Format(s.Indices)}); nothing was written or submitted.");
            return 0;
        }
        Console.WriteLine($"Submitted {s.SweepId} ({plan.Experiment.Name}) as Slurm array job {s.JobId}: {s.Indices.Count} task(s), indices {ArraySpec.Format(s.Indices)}" +
                          (s.LeftAlone.Count > 0 ? $" ({s.LeftAlone.Count} completed or running run(s) left out)" : "") + ".");
        Console.WriteLine($"  sweep:  {s.SweepDirectory}");
        Console.WriteLine($"  script: {s.ScriptPath}");
        Console.WriteLine($"  logs:   {Path.Combine(s.SweepDirectory, SlurmBatchScript.LogsFolder)}/task-<index>.log");
        Console.WriteLine($"  status: moelab sweep-status {s.SweepDirectory}");
        Console.WriteLine(s.JobId);
        return 0;
    }

    private static int EmitKubernetes(SweepPlan plan, ClusterCliOptions cluster, ParseResult pr, string? taskDevice)
    {
        string emit = pr.GetValue(cluster.Emit)!;
        var command = (pr.GetValue(cluster.ContainerCommand) ?? "moelab").Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (command.Length == 0) throw new ConfigException("--container-command is empty; expected e.g. moelab or \"dotnet /app/MoeLab.Experiments.dll\".");
        string resultsRoot = Path.GetDirectoryName(Path.GetDirectoryName(plan.Directory)!)!;
        var options = new KubernetesOptions(pr.GetValue(cluster.Image)!, pr.GetValue(cluster.Pvc)!, pr.GetValue(cluster.Mount) ?? resultsRoot,
            command, cluster.Resources(pr), taskDevice);
        // Validate the manifest before writing the task list the pods will read.
        KubernetesJobManifest.Build(plan.SweepId, plan.Experiment.Name, plan.Directory, plan.Points.Count, options);
        using (DirectoryLock.Acquire(plan.Directory, "sweep")) plan.WriteFiles();
        int completions = SweepTaskList.Read(plan.Directory).Tasks.Count;
        string yaml = KubernetesJobManifest.Build(plan.SweepId, plan.Experiment.Name, plan.Directory, completions, options);
        if (emit == "-") Console.Write(yaml);
        else AtomicFile.WriteAllText(emit, yaml);
        var writer = emit == "-" ? Console.Error : Console.Out;
        writer.WriteLine($"{plan.SweepId}: {(emit == "-" ? "Indexed Job written to standard output" : "wrote " + Path.GetFullPath(emit))} " +
                         $"({completions} completion(s), parallelism {Math.Min(options.Resources.MaxParallel ?? completions, completions)}); " +
                         $"the task list is {SweepTaskList.PathIn(plan.Directory)}. Nothing was submitted: kubectl apply -f {(emit == "-" ? "<file>" : emit)}");
        return 0;
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
