using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using MoeLab.Experiments.Runtime;

namespace MoeLab.Experiments.Cli;

/// <summary>`moelab sweep-task &lt;sweep-dir&gt; &lt;index&gt;`: what one cluster task runs — index
/// &lt;index&gt; of the sweep's task list (sweep-tasks.json), under the run's lock. Skips a completed
/// run, resumes an interrupted or crashed one, retries a failed one from scratch. Exit codes as
/// `moelab run`: 0 completed, 1 failed, 2 bad input or the run is live in another process, 143 on
/// SIGTERM (checkpoint written, run interrupted; a requeued task resumes it), 130 on SIGINT.</summary>
public static class SweepTaskCommand
{
    public static Command Create()
    {
        var sweepDir = new Argument<string>("sweep-dir") { Description = "The sweep directory (results/<experiment>/sweep-<hash>), holding sweep-tasks.json." };
        var index = new Argument<int>("index") { Description = "The task's index in sweep-tasks.json (Slurm: $SLURM_ARRAY_TASK_ID; Kubernetes: $JOB_COMPLETION_INDEX)." };
        var device = CliOptions.Device();
        var cmd = new Command("sweep-task", "Run one index of a planned sweep (what each Slurm array task or Kubernetes pod runs): " +
                                            "skip it when completed, resume it when interrupted or crashed, retry it when failed.")
        {
            sweepDir, index, device,
        };
        cmd.SetAction(pr => CliOptions.Guard(() =>
        {
            string dir = Path.GetFullPath(pr.GetValue(sweepDir)!);
            int i = pr.GetValue(index);
            var list = SweepTaskList.Read(dir);
            var task = list.Get(i);
            Console.WriteLine($"sweep-task {i} of {list.Sweep} ({list.Experiment}): {task.Point}, seed {task.Seed}, run {Path.Combine(dir, task.RunId)}");
            using var signals = new CancelOnSignal(Console.Error);
            var options = new RunOptions { Device = pr.GetValue(device) ?? "auto", Cancellation = signals.Token, StopReason = () => signals.Received };
            var clock = Stopwatch.StartNew();
            var r = SweepTaskRunner.RunIndex(dir, i, options, (label, body) => ConsoleProgress.Run(label, body));
            string seconds = clock.Elapsed.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture);
            Console.WriteLine($"sweep-task {i}: {r.Status} ({r.Action}) in {seconds} s" + (r.Error is null ? "" : $": {r.Error}"));
            if (r.Action == "skipped (live elsewhere)")
            {
                Console.Error.WriteLine("error: " + r.Error);
                return 2;
            }
            return CliOptions.ExitCode([r.Status], signals);
        }));
        return cmd;
    }
}
