
namespace MoeLab.Experiments.Cluster;

/// <summary>How a batch script starts this build of the command line on a compute node:
/// <c>dotnet &lt;abs&gt;/MoeLab.Experiments.dll</c> with absolute paths (a batch job has neither the
/// submitting shell's working directory nor, necessarily, its PATH), plus the allocator and OpenMP settings
/// the ./moelab wrapper sets (glibc keeps big freed blocks, in one arena, instead of returning and re-faulting them,
/// which dominates CPU training steps otherwise; LibTorch's OpenMP threads spin less after a parallel region).</summary>
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
        // LibTorch's OpenMP (libgomp) threads busy-wait after each parallel region before they sleep; the fused
        // dispatch's own .NET workers (small expert blocks, row kernels) then share the cores with a spinning thread.
        // A shorter spin, interleaved on the 2-core AMD EPYC VM (`moelab bench --repetitions 20`, 6 pairs): E 32 top-4
        // MoE 118.5 → 114.3 ms mean (ratio 1.304 → 1.252, better in 6 of 6), the dense FFN unchanged (90.9 vs 91.3 ms),
        // E 8 unchanged (1.115 vs 1.113); E 256 top-8 2.51 → 2.39 (4 pairs), T 1k unchanged. 1,000 made dense and E 8
        // slower (earlier measurement); 10,000–100,000 all helped E 32 alike.
        KeyValuePair.Create("GOMP_SPINCOUNT", "30000"),
    ];

    /// <summary>Where jemalloc is looked for, in order, as the <c>./moelab</c> wrapper does (Debian/Ubuntu on x86-64 and
    /// arm64, then other layouts). Why jemalloc: see the wrapper (glibc's heap grows step after step in long CPU runs,
    /// pinned by small long-lived objects between big freed blocks).</summary>
    public static readonly IReadOnlyList<string> JemallocCandidates =
    [
        "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2",
        "/usr/lib64/libjemalloc.so.2", "/usr/lib/libjemalloc.so.2", "/usr/local/lib/libjemalloc.so.2",
    ];

    /// <summary>jemalloc's settings under MoeLab unless the environment has a MALLOC_CONF: freed pages are kept, not
    /// returned (the same reason as glibc's settings above).</summary>
    public const string JemallocConf = "dirty_decay_ms:-1,muzzy_decay_ms:-1";

    /// <summary>The first of <see cref="JemallocCandidates"/> on this machine, or null (also null under
    /// MOELAB_ALLOCATOR=glibc).</summary>
    public static string? FindJemalloc(IReadOnlyList<string>? candidates = null) =>
        System.Environment.GetEnvironmentVariable("MOELAB_ALLOCATOR") == "glibc" ? null : (candidates ?? JemallocCandidates).FirstOrDefault(File.Exists);

    /// <summary>A bash fragment that does what the wrapper does, on the machine where it runs (a batch script is written
    /// on one machine and run on a compute node that may or may not have jemalloc): preload the first candidate that
    /// exists unless MOELAB_ALLOCATOR=glibc or LD_PRELOAD already has a jemalloc, and default MALLOC_CONF.</summary>
    public static string JemallocShell(IReadOnlyList<string>? candidates = null)
    {
        var paths = string.Join(" ", (candidates ?? JemallocCandidates).Select(SlurmBatchScript.Quote));
        return "# jemalloc where this node has it, as the ./moelab wrapper (MOELAB_ALLOCATOR=glibc keeps glibc).\n" +
               "if [ \"${MOELAB_ALLOCATOR:-auto}\" != \"glibc\" ]; then\n" +
               $"  for candidate in {paths}; do\n" +
               "    [ -f \"$candidate\" ] || continue\n" +
               "    case \":${LD_PRELOAD:-}:\" in *libjemalloc*) ;; *) export LD_PRELOAD=\"$candidate${LD_PRELOAD:+:$LD_PRELOAD}\" ;; esac\n" +
               $"    export MALLOC_CONF=\"${{MALLOC_CONF:-{JemallocConf}}}\"\n" +
               "    break\n" +
               "  done\n" +
               "fi\n";
    }

    /// <summary>The malloc this process runs on: "jemalloc (MALLOC_CONF=…)" when libjemalloc is mapped (the <c>./moelab</c>
    /// wrapper preloads it where it is installed; see the wrapper), else "glibc".</summary>
    public static string DescribeAllocator() =>
        Models.Runtime.DeterministicNumerics.IsLibraryMapped("libjemalloc")
            ? $"jemalloc (MALLOC_CONF={System.Environment.GetEnvironmentVariable("MALLOC_CONF") ?? "unset"})"
            : "glibc";

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
