using MoeLab.Models.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Models.Tests;

[CollectionDefinition(nameof(GcQuietRegionTests), DisableParallelization = true)]
public sealed class GcQuietRegionCollection;

/// <summary>Runs alone (a no-GC region is process-wide): a second thread allocates about half a gigabyte per
/// second while this thread runs blocks of LibTorch calls, calling the safe point between blocks. Without the
/// region collections land inside the blocks (the hazard: a finalizer can free a Scalar LibTorch is reading);
/// with it every collection happens at a safe point. The run without the region uses explicit Scalars kept alive
/// for each call: with implicit ones it crashes the process (when this test was written, the control run died with
/// "Expected false to be true … toFloat" within 0.5 s), the failure the region exists to prevent.</summary>
[Collection(nameof(GcQuietRegionTests))]
public sealed class GcQuietRegionTests
{
    private static (int InsideBlocks, int Total) Run(bool quiet, TimeSpan duration)
    {
        using var stop = new CancellationTokenSource();
        var noise = new Thread(() =>
        {
            var keep = new byte[64][];
            int i = 0;
            while (!stop.IsCancellationRequested)
            {
                for (int j = 0; j < 8; j++) keep[i++ % keep.Length] = new byte[64 * 1024]; // 512 KiB …
                Thread.Sleep(1);                                                                // … per millisecond
            }
        }) { IsBackground = true };
        noise.Start();
        var x = torch.randn(64, 64);
        int inside = 0, start = GC.CollectionCount(0);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using (quiet ? GcQuietRegion.Enter() : null)
        {
            while (clock.Elapsed < duration)
            {
                if (quiet) GcQuietRegion.SafePoint();
                int before = GC.CollectionCount(0);
                var blockClock = System.Diagnostics.Stopwatch.StartNew();
                while (blockClock.ElapsedMilliseconds < 5)
                {
                    using var scope = NewDisposeScope();
                    if (quiet) _ = x.add(1e-6).mul(0.5).add(x);            // implicit Scalars: the hazard
                    else
                    {
                        using Scalar eps = 1e-6, half = 0.5, one = 1;     // kept alive to the end of the call
                        _ = x.add(eps, one).mul(half).add(x, one);
                    }
                }
                inside += GC.CollectionCount(0) - before;
            }
        }
        stop.Cancel();
        noise.Join();
        return (inside, GC.CollectionCount(0) - start);
    }

    [Fact]
    public void CollectionsHappenOnlyAtSafePointsWhileAnotherThreadAllocates()
    {
        Assert.True(GcQuietRegion.Enabled, "MOELAB_GC_QUIET=0 is set in the test environment");
        var control = Run(quiet: false, TimeSpan.FromSeconds(2));
        Assert.True(control.InsideBlocks >= 1, $"the allocating thread caused no collection inside a block without the region ({control.Total} in all): the test would prove nothing");
        long regions = GcQuietRegion.Regions;
        var guarded = Run(quiet: true, TimeSpan.FromSeconds(2));
        Assert.Equal(0, guarded.InsideBlocks);
        Assert.True(GcQuietRegion.Regions - regions >= 2, $"{GcQuietRegion.Regions - regions} region(s): the safe point never renewed the region");
        Assert.NotEqual(System.Runtime.GCLatencyMode.NoGCRegion, System.Runtime.GCSettings.LatencyMode); // ended on dispose
    }
}
