using System.Runtime;

namespace MoeLab.Models.Runtime;

/// <summary>Keeps the .NET garbage collector from starting while a training loop is inside LibTorch, and
/// collects at the loop's own safe points instead.
/// <para>Why: TorchSharp 0.107 passes native code the raw handles of the <c>Scalar</c> objects it creates by
/// implicit conversion (<c>x.add(1e-6)</c>, and the implicit <c>alpha = 1</c> of every <c>a.add(b)</c>) without
/// keeping the managed wrappers alive for the duration of the call, and those wrappers free their native value
/// in a finalizer. When another thread's allocation starts a collection while a call is in flight, the finalizer
/// can free a Scalar that LibTorch is about to read. Seen in a 2-shard efficiency-leverage grid (2026-12-01):
/// one run died with <c>Expected false to be true … toFloat at c10/core/Scalar.h</c> inside
/// <c>RmsNorm.forward</c>'s <c>add(ε)</c> (a Scalar whose type tag had been overwritten); a stand-alone
/// reproduction (a loop of <c>x.add(1e-6)</c> while a second thread calls <c>GC.Collect(0)</c>) fails with
/// "Unknown scalar type" within about ten thousand iterations. The optimisers already avoid it on their own
/// (<c>GcSafeAdamW</c>, <c>GcSafeSgd</c> keep their Scalars alive); the forward and backward passes of every model
/// are too many call sites for that, hence this region around the whole step.</para>
/// <para>What: <see cref="Enter"/> starts a no-GC region (<see cref="GC.TryStartNoGCRegion(long)"/>) with a
/// budget of <see cref="Budget"/> bytes of managed allocation; <see cref="SafePoint"/>, called by the loop where
/// it is in managed code and no worker is inside LibTorch (between optimiser steps), ends the region once half of
/// the budget is used and starts a new one, which is where the collection happens. Managed allocation per step is
/// small (tensor wrappers), so a collection comes every several steps; native tensor memory is not managed
/// memory and is still freed by dispose scopes, as before. When a step outgrows the budget the runtime collects
/// anyway and the region ends (<see cref="Overruns"/> counts it); the next safe point starts a new one. Several
/// loops in one process (parallel tests) share one region, reference-counted; a safe point of one loop is then
/// not one of the other, which is no worse than without the region. <c>MOELAB_GC_QUIET=0</c> turns it off.</para>
/// <para>Cost: a full blocking collection per region (≈ 3 ms with 50 MB of live managed heap on the 2-core
/// AMD EPYC development VM).</para></summary>
public static class GcQuietRegion
{
    private static readonly object Gate = new();
    private static int users;
    private static bool active;
    private static long allocatedAtStart;

    /// <summary>Managed bytes a region may allocate before the runtime collects (default 64 MiB).</summary>
    public static long Budget { get; set; } = 64L << 20;

    /// <summary>Regions started in this process.</summary>
    public static long Regions { get; private set; }

    /// <summary>Regions that ended because the allocations outgrew the budget (a collection happened inside).</summary>
    public static long Overruns { get; private set; }

    /// <summary>False when <c>MOELAB_GC_QUIET=0</c>.</summary>
    public static bool Enabled => Environment.GetEnvironmentVariable("MOELAB_GC_QUIET") != "0";

    /// <summary>Starts (or joins) the region; dispose the result when the loop ends.</summary>
    public static IDisposable Enter()
    {
        if (!Enabled) return new Lease(false);
        lock (Gate)
        {
            users++;
            if (!active) Start();
        }
        return new Lease(true);
    }

    /// <summary>Call where no LibTorch call of this loop is in flight: renews the region when it has ended or used
    /// half of its budget (the collection then happens here).</summary>
    public static void SafePoint()
    {
        if (users == 0) return;
        lock (Gate)
        {
            if (users == 0) return;
            bool inRegion = GCSettings.LatencyMode == GCLatencyMode.NoGCRegion;
            if (active && !inRegion) { Overruns++; active = false; }
            if (active && GC.GetTotalAllocatedBytes(false) - allocatedAtStart < Budget / 2) return;
            Stop();
            Start();
        }
    }

    private static void Start()
    {
        try
        {
            active = GC.TryStartNoGCRegion(Budget);
        }
        catch (InvalidOperationException)
        {
            active = false; // someone else in this process holds a no-GC region
        }
        catch (ArgumentOutOfRangeException)
        {
            Budget /= 2; // larger than this runtime allows: smaller next time
            active = false;
        }
        if (active)
        {
            Regions++;
            allocatedAtStart = GC.GetTotalAllocatedBytes(false);
        }
    }

    private static void Stop()
    {
        if (!active) return;
        active = false;
        if (GCSettings.LatencyMode != GCLatencyMode.NoGCRegion) { Overruns++; return; }
        try { GC.EndNoGCRegion(); }
        catch (InvalidOperationException) { Overruns++; } // a collection happened inside the region
    }

    private static void Leave()
    {
        lock (Gate)
        {
            if (--users == 0) Stop();
        }
    }

    private sealed class Lease(bool counted) : IDisposable
    {
        private int disposed;

        public void Dispose()
        {
            if (counted && Interlocked.Exchange(ref disposed, 1) == 0) Leave();
        }
    }
}
