using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;

namespace MoeLab.Models.Runtime;

/// <summary>Runs C# work on LibTorch's own OpenMP threads (libgomp's <c>GOMP_parallel</c>, found through the
/// <c>libtorch_cpu</c> library TorchSharp loaded) instead of on .NET thread-pool workers.
/// <para>Why: a CPU MoE pass alternates ATen kernels (OpenMP) with the fused dispatch's C# kernels (row gathers, the
/// weighted combine, small expert blocks). With two thread pools, each hand-over pays twice: the OpenMP worker keeps
/// spinning for a while after every ATen kernel (<c>GOMP_SPINCOUNT</c>) and takes a core from the .NET worker that was
/// just woken for the C# kernel, and the .NET worker's wake-up costs its own latency. One team for both: the thread that
/// spins is the one that picks up the C# work.</para>
/// <para>The body is handed a team of up to the requested size: OpenMP may give fewer threads (inside another parallel
/// region: one), so callers hand out their work through a shared counter and never assume how many ran. An exception
/// in any thread is caught there (it must not unwind through libgomp) and rethrown on the caller's thread.</para>
/// <para>Where the symbol is missing (LibTorch built without GNU OpenMP, another OS) or <c>MOELAB_OMP_TEAM=0</c>,
/// <see cref="Available"/> is false and callers keep <see cref="Parallel"/>.</para></summary>
internal static unsafe class OmpTeam
{
    private static readonly delegate* unmanaged<delegate* unmanaged<void*, void>, void*, uint, uint, void> parallel;
    private static readonly delegate* unmanaged<int> inParallel;

    /// <summary>True when <see cref="Run"/> uses the OpenMP team (else: why not in <see cref="Failure"/>).</summary>
    public static bool Available { get; }

    /// <summary>Why the team is not used, or null.</summary>
    public static string? Failure { get; }

    /// <summary>Whether callers use the team (default: when <see cref="Available"/>); tests switch it off to compare
    /// with .NET workers in one process.</summary>
    public static bool Enabled { get => enabled && Available; set => enabled = value; }
    private static bool enabled = true;

    static OmpTeam()
    {
        if (Environment.GetEnvironmentVariable("MOELAB_OMP_TEAM") == "0") { Failure = "MOELAB_OMP_TEAM=0"; return; }
        if (LibTorchSymbols.Find(["GOMP_parallel", "omp_in_parallel"], out var failure) is not { } p) { Failure = failure; return; }
        parallel = (delegate* unmanaged<delegate* unmanaged<void*, void>, void*, uint, uint, void>)p[0];
        inParallel = (delegate* unmanaged<int>)p[1];
        Available = true;
    }

    /// <summary>True on a thread that is inside an OpenMP parallel region (a team's member).</summary>
    public static bool InParallelRegion => Available && inParallel() != 0;

    /// <summary>Parallel regions started by <see cref="Run"/> so far (for tests).</summary>
    internal static long Regions => Interlocked.Read(ref regions);
    private static long regions;

    private sealed class Job(Action body)
    {
        public readonly Action Body = body;
        public ExceptionDispatchInfo? Error;
    }

    /// <summary>Runs <paramref name="body"/> once on each thread of a team of at most <paramref name="threads"/>
    /// (this thread included) and returns when all are done; rethrows the first exception.</summary>
    public static void Run(int threads, Action body)
    {
        if (!Available) throw new InvalidOperationException($"OmpTeam: not available ({Failure}).");
        Interlocked.Increment(ref regions);
        var job = new Job(body);
        var handle = GCHandle.Alloc(job);
        try { parallel(&Entry, (void*)GCHandle.ToIntPtr(handle), (uint)Math.Max(1, threads), 0); }
        finally { handle.Free(); }
        job.Error?.Throw();
    }

    [UnmanagedCallersOnly]
    private static void Entry(void* data)
    {
        try
        {
            var job = (Job)GCHandle.FromIntPtr((IntPtr)data).Target!;
            try { job.Body(); }
            catch (Exception e) { Interlocked.CompareExchange(ref job.Error, ExceptionDispatchInfo.Capture(e), null); }
        }
        catch { } // nothing may unwind into libgomp
    }

    /// <summary>Runs <paramref name="work"/> on up to <paramref name="workers"/> threads at once — the OpenMP team, or
    /// .NET workers where the team is not enabled — and returns when all are done. Each call of <paramref name="work"/>
    /// must take its share through a shared counter: how many threads run it is not fixed.</summary>
    public static void Spread(int workers, Action work)
    {
        if (workers <= 1) work();
        else if (Enabled) Run(workers, work);
        else System.Threading.Tasks.Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, _ => work());
    }

    /// <summary>body(i) for every i in [0, count), handed out one at a time to at most <paramref name="workers"/>
    /// threads (<see cref="Spread"/>). <paramref name="eachThread"/>, when given, is entered once by every thread
    /// that takes part, before its first item, and disposed after its last (per-thread settings).</summary>
    public static void ForEach(int count, int workers, Action<int> body, Func<IDisposable>? eachThread = null)
    {
        int next = -1;
        Spread(Math.Min(workers, count), () =>
        {
            using var setting = eachThread?.Invoke();
            for (int i = Interlocked.Increment(ref next); i < count; i = Interlocked.Increment(ref next)) body(i);
        });
    }
}

/// <summary>How the fused CPU dispatch runs on this machine, in words, for <c>moelab doctor</c> and benchmark headers:
/// whether its expert matmuls call MKL directly, whether small blocks use <see cref="Dispatch.SmallGemm"/>, and on which
/// threads its C# kernels run.</summary>
public static class DispatchThreading
{
    public static string Describe() =>
        (Dispatch.MklGemm.Available ? "direct MKL sgemm_" : $"addmm_ (direct MKL off: {Dispatch.MklGemm.Failure})") +
        (Dispatch.SmallGemm.Available ? ", small blocks on MoeLab's AVX2 kernel" : $", small blocks too (AVX2 kernel off: {Dispatch.SmallGemm.Failure})") + "; C# kernels on " +
        (OmpTeam.Available ? "LibTorch's OpenMP team" : $".NET workers (OpenMP team off: {OmpTeam.Failure})");
}
