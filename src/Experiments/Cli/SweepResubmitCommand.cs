using System.CommandLine;
using MoeLab.Experiments.Cluster;

namespace MoeLab.Experiments.Cli;

/// <summary>`moelab sweep-resubmit &lt;sweep-dir&gt; [--dry-run]`: submits, as one new array job
/// (--array=i,j,k), the indices whose runs failed, were interrupted, crashed or never ran, except
/// those still queued or running in Slurm; with the newest recorded script's resources.</summary>
public static class SweepResubmitCommand
{
    public static Command Create()
    {
        var sweepDir = new Argument<string>("sweep-dir") { Description = "The sweep directory (results/<experiment>/sweep-<hash>)." };
        var dryRun = new Option<bool>("--dry-run") { Description = "Print the batch script; submit nothing." };
        var cmd = new Command("sweep-resubmit", "Submit again, as one array job, the indices of a Slurm sweep that failed, were interrupted, " +
                                          "crashed or never ran (not those still queued or running).")
        {
            sweepDir, dryRun,
        };
        cmd.SetAction(pr => CliOptions.Guard(() =>
        {
            bool dry = pr.GetValue(dryRun);
            var s = SlurmSweepSubmitter.Resubmit(pr.GetValue(sweepDir)!, new SlurmClient(), dry);
            foreach (var (index, why) in s.LeftAlone.Where(l => l.Why.Contains("still")))
                Console.WriteLine($"  index {index} left alone: {why}");
            if (s.Indices.Count == 0)
            {
                Console.WriteLine($"{s.SweepId}: nothing to resubmit (no failed, interrupted, crashed or missing run outside the queue).");
                return 0;
            }
            if (dry)
            {
                Console.Write(s.Script);
                Console.Error.WriteLine($"dry run: indices {ArraySpec.Format(s.Indices)} would be resubmitted; nothing was submitted.");
                return 0;
            }
            Console.WriteLine($"Resubmitted {s.SweepId}: indices {ArraySpec.Format(s.Indices)} as Slurm array job {s.JobId}.");
            Console.WriteLine($"  status: moelab sweep-status {s.SweepDirectory}");
            Console.WriteLine(s.JobId);
            return 0;
        }));
        return cmd;
    }
}
