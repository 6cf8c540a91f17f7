using System.Globalization;
using System.Text.RegularExpressions;
using MoeLab.Experiments.Runtime;

namespace MoeLab.Experiments.Cluster;

/// <summary>What each task of a cluster sweep asks for, in Slurm's notation (the Kubernetes
/// manifest converts it). Null = the scheduler's default.</summary>
/// <param name="CpusPerTask">--cpus-per-task: CPUs per task; also the task's LibTorch threads (OMP_NUM_THREADS).</param>
/// <param name="Memory">--mem: memory per task, a number with an optional unit K, M, G or T (base 1024; no unit = M), e.g. 4G.</param>
/// <param name="Time">--time: wall-time limit per task: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS.</param>
/// <param name="MaxParallel">--max-parallel: at most this many tasks at once (Slurm's %K; the Job's parallelism).</param>
public sealed partial record ClusterResources(int? CpusPerTask, string? Memory, string? Time, int? MaxParallel)
{
    /// <summary>Checks every value; throws <see cref="ConfigException"/> listing each bad one with what is allowed.</summary>
    public ClusterResources Validated()
    {
        var problems = new List<string>();
        if (CpusPerTask is { } c && (c < 1 || c > 4096))
            problems.Add($"--cpus-per-task {c}: allowed 1 … 4096.");
        if (MaxParallel is { } k && (k < 1 || k > 100_000))
            problems.Add($"--max-parallel {k}: allowed 1 … 100000.");
        if (Memory is not null && MemoryPattern().Match(Memory) is not { Success: true })
            problems.Add($"--mem '{Memory}': expected a number with an optional unit K, M, G or T (base 1024, no unit = M), e.g. 4G or 4000.");
        if (Time is not null && TimeSeconds(Time) is null)
            problems.Add($"--time '{Time}': expected minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS (Slurm's formats), e.g. 30 or 2:00:00.");
        if (problems.Count > 0) throw new ConfigException(problems);
        return this;
    }

    /// <summary><see cref="Memory"/> as a Kubernetes quantity (4G → 4Gi, 4000 → 4000Mi); null when unset.</summary>
    public string? KubernetesMemory()
    {
        if (Memory is null) return null;
        var m = MemoryPattern().Match(Memory);
        string unit = m.Groups[2].Value.Length == 0 ? "M" : m.Groups[2].Value.ToUpperInvariant();
        return m.Groups[1].Value + unit + "i";
    }

    /// <summary>Seconds of a Slurm time limit, or null when the text is not one.</summary>
    public static long? TimeSeconds(string text)
    {
        var m = TimePattern().Match(text.Trim());
        if (!m.Success) return null;
        long days = m.Groups["d"].Success ? long.Parse(m.Groups["d"].Value, CultureInfo.InvariantCulture) : 0;
        var parts = m.Groups["rest"].Value.Split(':').Select(p => long.Parse(p, CultureInfo.InvariantCulture)).ToArray();
        long seconds = m.Groups["d"].Success
            ? parts.Length switch
            {
                1 => parts[0] * 3600,
                2 => parts[0] * 3600 + parts[1] * 60,
                _ => parts[0] * 3600 + parts[1] * 60 + parts[2],
            }
            : parts.Length switch
            {
                1 => parts[0] * 60,
                2 => parts[0] * 60 + parts[1],
                _ => parts[0] * 3600 + parts[1] * 60 + parts[2],
            };
        seconds += days * 86400;
        return seconds > 0 ? seconds : null;
    }

    [GeneratedRegex(@"^([0-9]+)([KMGTkmgt]?)$")]
    private static partial Regex MemoryPattern();

    [GeneratedRegex(@"^(?:(?<d>[0-9]+)-)?(?<rest>[0-9]+(?::[0-9]+){0,2})$")]
    private static partial Regex TimePattern();
}
