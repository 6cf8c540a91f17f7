using System.Runtime;

namespace MoeLab.Experiments.Bench;

/// <summary>What the .NET JIT is doing in this process, for benchmarks that must time steady-state passes.
/// <para>With tiered compilation (the .NET default) a method is first compiled quickly, counted, and recompiled
/// optimised on a background thread after about 30 calls (with dynamic PGO, twice). Code called once per pass
/// therefore keeps being recompiled for the first 30–60 passes, and on a 2-core machine the background compiler
/// takes a core from the BLAS threads of the pass being timed. Measured on the 2-core AMD EPYC VM (E 8 top-2,
/// `moelab bench` with 3 warm-up passes): 10–226 methods compiled in most of the first ~30 timed MoE passes,
/// those passes 20–190 ms slower, and MoE/dense 1.17–1.25 with tiering against 1.11–1.14 with it off or after 40
/// warm-up passes. The moelab executable therefore runs with tiered compilation off (its project file):
/// every method is compiled once, optimised, at its first call — in the first warm-up pass.</para></summary>
public static class JitActivity
{
    /// <summary>Methods the JIT has compiled in this process so far (all threads).</summary>
    public static long CompiledMethods => JitInfo.GetCompiledMethodCount(currentThread: false);

    /// <summary>Whether tiered compilation is on in this process: <c>DOTNET_TieredCompilation</c> when set, else the
    /// runtime configuration's <c>System.Runtime.TieredCompilation</c>, else on (the .NET default).</summary>
    public static bool Tiered => Environment.GetEnvironmentVariable("DOTNET_TieredCompilation") switch
    {
        "0" => false,
        "1" => true,
        _ => AppContext.GetData("System.Runtime.TieredCompilation") is not (false or "false" or "False"),
    };

    /// <summary>One line for benchmark headers.</summary>
    public static string Describe() => Tiered
        ? "JIT: tiered compilation ON in this process (background recompilation can land in timed passes; the moelab executable runs with it off)"
        : "JIT: tiered compilation off (every method compiled once, optimised, at its first call)";
}
