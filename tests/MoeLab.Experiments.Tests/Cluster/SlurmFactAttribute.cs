using MoeLab.Experiments.Cluster;

namespace MoeLab.Experiments.Tests.Cluster;

/// <summary>A test that needs a running Slurm cluster (sbatch, squeue and sinfo on PATH, a node that
/// takes jobs). Where there is none, the test is reported as <b>skipped, with the reason</b>, except
/// when <c>MOELAB_REQUIRE_SLURM=1</c> (set by .ci/run, which installs Slurm and starts the
/// single-node cluster of build/slurm-single-node.sh): then it runs and fails loudly.</summary>
public sealed class SlurmFactAttribute : FactAttribute
{
    private static readonly Lazy<string?> Unavailable = new(WhyUnavailable);

    public SlurmFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("MOELAB_REQUIRE_SLURM") == "1") return;
        if (Unavailable.Value is { } why)
            Skip = $"needs a running Slurm cluster: {why} (apt-get install -y slurm-wlm munge, then build/slurm-single-node.sh start; " +
                   "MOELAB_REQUIRE_SLURM=1 makes this test run and fail instead)";
    }

    private static string? WhyUnavailable()
    {
        foreach (string tool in new[] { "sbatch", "squeue", "scancel", "sinfo" })
            if (ExternalCommand.Find(tool) is null) return $"{tool} is not on PATH";
        try
        {
            var (code, output, err) = ExternalCommand.Run(ExternalCommand.Find("sinfo")!, ["-h", "-o", "%t"], TimeSpan.FromSeconds(15));
            if (code != 0) return $"sinfo failed: {(err + output).Trim()}";
            var states = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            return states.Any(s => s is "idle" or "mix" or "alloc" or "comp") ? null : $"no node takes jobs (sinfo: {string.Join(", ", states)})";
        }
        catch (InvalidOperationException e)
        {
            return e.Message;
        }
    }
}
