
namespace MoeLab.Experiments.Cluster;

/// <summary>How a batch script starts this build of the command line on a compute node:
/// <c>dotnet &lt;abs&gt;/MoeLab.Experiments.dll</c> with absolute paths (a batch job has neither the
/// submitting shell's working directory nor, necessarily, its PATH), plus the allocator settings
/// the ./moelab wrapper sets (glibc keeps big freed blocks, in one arena, instead of returning and re-faulting them,
/// which dominates CPU training steps otherwise).</summary>
public sealed record MoelabInvocation(string Dotnet, string Assembly)
{
    /// <summary>Environment variables a task sets unless the job's environment has them already.</summary>
    public static readonly IReadOnlyList<KeyValuePair<string, string>> Environment =
    [
        KeyValuePair.Create("MALLOC_MMAP_MAX_", "0"),
        KeyValuePair.Create("MALLOC_TRIM_THRESHOLD_", "17179869184"),
        // One arena: the per-thread arenas glibc gives worker threads are mmap'd heaps that it unmaps as soon as one
        // empties, whatever the two settings above say, so the fused dispatch's parallel workers re-faulted fresh
        // pages every pass (E 32 top-4: 330–1,340 minor faults per pass; 38 with one arena).
        KeyValuePair.Create("MALLOC_ARENA_MAX", "1"),
    ];

    /// <summary>"NAME=value …" of <see cref="Environment"/> as this process sees it ("unset" where absent).</summary>
    public static string DescribeEnvironment() =>
        string.Join(" ", Environment.Select(kv => $"{kv.Key}={System.Environment.GetEnvironmentVariable(kv.Key) ?? "unset"}"));

    /// <summary>This process's own build: its assembly's path and the dotnet host that runs it (the
    /// host running this process when it is dotnet, else dotnet from DOTNET_ROOT or PATH).</summary>
    public static MoelabInvocation Current()
    {
        string assembly = typeof(MoelabInvocation).Assembly.Location;
        if (string.IsNullOrEmpty(assembly))
            throw new InvalidOperationException("The path of MoeLab.Experiments.dll is unknown (single-file build?); cluster tasks need it.");
        string? host = System.Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : null;
        host ??= System.Environment.GetEnvironmentVariable("DOTNET_ROOT") is { Length: > 0 } root && File.Exists(Path.Combine(root, "dotnet"))
            ? Path.Combine(root, "dotnet")
            : null;
        host ??= ExternalCommand.Find("dotnet");
        if (host is null)
            throw new InvalidOperationException("The dotnet host was not found (not the running process, not in $DOTNET_ROOT, not on PATH); cluster tasks need it.");
        return new MoelabInvocation(ResolveLink(host), Path.GetFullPath(assembly));
    }

    private static string ResolveLink(string path)
    {
        try
        {
            return File.ResolveLinkTarget(path, returnFinalTarget: true)?.FullName ?? Path.GetFullPath(path);
        }
        catch (IOException)
        {
            return Path.GetFullPath(path);
        }
    }
}
