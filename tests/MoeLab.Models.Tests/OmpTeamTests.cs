using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using MoeLab.Models.Dispatch;
using MoeLab.Models.Experts;
using MoeLab.Models.Layers;
using MoeLab.Models.Routing;
using MoeLab.Models.Runtime;
using TorchSharp;
using static MoeLab.Models.Tests.TestSupport;
using static TorchSharp.torch;

namespace MoeLab.Models.Tests;

/// <summary>C# work on LibTorch's OpenMP team (<see cref="OmpTeam"/>): found in the loaded library, really parallel on
/// OpenMP threads, every item done once whatever the team's size, exceptions brought back to the caller, and the fused
/// dispatch giving the same bits on the team as on .NET workers.</summary>
public class OmpTeamTests
{
    [Fact]
    public void LibTorchOnLinuxX64HasTheGnuOpenMpEntryPoints()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64) return; // libgomp builds only
        Assert.True(OmpTeam.Available, OmpTeam.Failure);
        Assert.True(OmpTeam.Enabled);
    }

    /// <summary>Two team members at once, both inside an OpenMP region, on two different threads, one of them the caller:
    /// a barrier that only two concurrent threads can pass (a team of one would time out here).</summary>
    [Fact]
    public void RunStartsATeamOfOpenMpThreadsThatIncludesTheCaller()
    {
        if (!OmpTeam.Available) return;
        int caller = Environment.CurrentManagedThreadId;
        var threads = new ConcurrentDictionary<int, bool>();
        using var barrier = new Barrier(2);
        int passed = 0;
        Assert.False(OmpTeam.InParallelRegion);
        OmpTeam.Run(2, () =>
        {
            threads[Environment.CurrentManagedThreadId] = OmpTeam.InParallelRegion;
            if (barrier.SignalAndWait(TimeSpan.FromSeconds(30))) Interlocked.Increment(ref passed);
        });
        Assert.Equal(2, passed);
        Assert.Equal(2, threads.Count);
        Assert.Contains(caller, threads.Keys);
        Assert.All(threads.Values, Assert.True);
        Assert.False(OmpTeam.InParallelRegion);
    }

    [Theory]
    [InlineData(0, 2)]
    [InlineData(1, 2)]
    [InlineData(2, 2)]
    [InlineData(1000, 2)]
    [InlineData(7, 16)]
    public void ForEachDoesEveryItemExactlyOnce(int count, int workers)
    {
        foreach (bool team in new[] { true, false })
        {
            OmpTeam.Enabled = team;
            try
            {
                var done = new int[count];
                OmpTeam.ForEach(count, workers, i => Interlocked.Increment(ref done[i]));
                Assert.All(done, d => Assert.Equal(1, d));
            }
            finally { OmpTeam.Enabled = true; }
        }
    }

    /// <summary>Inside a team OpenMP gives a nested region one thread: the counter still hands out every item.</summary>
    [Fact]
    public void ANestedForEachRunsEveryItemOnItsOwnThread()
    {
        if (!OmpTeam.Available) return;
        var done = new int[2, 50];
        var nestedThreads = new ConcurrentBag<bool>();
        OmpTeam.ForEach(2, 2, outer =>
        {
            int me = Environment.CurrentManagedThreadId;
            OmpTeam.ForEach(50, 2, inner =>
            {
                nestedThreads.Add(Environment.CurrentManagedThreadId == me);
                Interlocked.Increment(ref done[outer, inner]);
            });
        });
        foreach (int d in done) Assert.Equal(1, d);
        Assert.All(nestedThreads, Assert.True);
    }

    [Fact]
    public void AnExceptionOnATeamThreadReachesTheCallerAndTheTeamStillWorks()
    {
        if (!OmpTeam.Available) return;
        int caller = Environment.CurrentManagedThreadId;
        var e = Assert.Throws<InvalidOperationException>(() => OmpTeam.ForEach(64, 2, i =>
        {
            if (i == 40) throw new InvalidOperationException($"item {i} failed");
            if (Environment.CurrentManagedThreadId != caller) Thread.Sleep(1); // let the other thread take items too
        }));
        Assert.Equal("item 40 failed", e.Message);
        var done = new int[100];
        OmpTeam.ForEach(100, 2, i => Interlocked.Increment(ref done[i]));
        Assert.All(done, d => Assert.Equal(1, d));
    }

    /// <summary>Collections started from a team thread while the other member allocates managed objects and tensors:
    /// no hang, no lost work (the OpenMP thread runs managed code like any thread the runtime knows).</summary>
    [Fact]
    public void GarbageCollectionsDuringTeamWorkComplete()
    {
        if (!OmpTeam.Available) return;
        long sum = 0;
        OmpTeam.ForEach(200, 2, i =>
        {
            using var scope = NewDisposeScope();
            var t = torch.ones(64, 64).mul(i);
            Interlocked.Add(ref sum, (long)t.sum().item<float>() / 4096);
            _ = new byte[10_000];
            if (i % 50 == 0) GC.Collect();
        });
        Assert.Equal(Enumerable.Range(0, 200).Sum(), sum);
    }

    /// <summary>The fused dispatch's row kernels and small-block chunks on the OpenMP team and on .NET workers: output and
    /// every gradient bit for bit equal (each chunk's and each row range's work is the same whichever thread does it).</summary>
    [Theory]
    [InlineData(ExpertKind.Gelu, false, 32, 64)]
    [InlineData(ExpertKind.SwiGlu, true, 16, 128)]
    public void FusedDispatchGivesTheSameBitsOnTheTeamAsOnDotNetWorkers(ExpertKind kind, bool bias, int experts, int hidden)
    {
        if (!OmpTeam.Available) return;
        int previous = torch.get_num_threads();
        torch.set_num_threads(2);
        try
        {
            long before = OmpTeam.Regions;
            var onTeam = Run(kind, bias, experts, hidden, team: true);
            long teamRegions = OmpTeam.Regions - before;
            var onWorkers = Run(kind, bias, experts, hidden, team: false);
            // Forward chunks (each gathers its rows), combine, backward chunks (the combine's backward inside), gather
            // backward: 4 at least.
            Assert.True(teamRegions >= 4, $"{teamRegions} team regions: the row kernels and the chunks should have run on the team");
            Assert.Equal(before + teamRegions, OmpTeam.Regions);
            SameBits(onTeam, onWorkers, "between the OpenMP team and .NET workers");
        }
        finally
        {
            OmpTeam.Enabled = true;
            torch.set_num_threads(previous);
        }
    }

    /// <summary>Two layers' forward and backward at once from two .NET threads (each thread its own OpenMP team, as two
    /// notebook tasks would): each gives the same bits as when it runs alone. (The layers and inputs are made one after
    /// the other: the random generator is shared.)</summary>
    [Fact]
    public void TwoThreadsRunningTheFusedDispatchAtOnceGetTheirOwnResults()
    {
        if (!OmpTeam.Available) return;
        var cases = new[] { (ExpertKind.Gelu, false, 32, 64), (ExpertKind.SwiGlu, true, 16, 128) };
        var alone = cases.Select(c => Pass(Setup(c.Item1, c.Item2, c.Item3, c.Item4))).ToArray();
        var setups = cases.Select(c => Setup(c.Item1, c.Item2, c.Item3, c.Item4)).ToArray();
        var together = new Tensor[2][];
        var threads = Enumerable.Range(0, 2).Select(i => new Thread(() =>
        {
            torch.set_num_threads(2);
            together[i] = Pass(setups[i]);
        })).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) Assert.True(t.Join(TimeSpan.FromMinutes(2)), "a thread did not finish");
        for (int i = 0; i < 2; i++) SameBits(alone[i], together[i], $"for layer {i} when run beside another");
    }

    private static Tensor[] Run(ExpertKind kind, bool bias, int experts, int hidden, bool team)
    {
        OmpTeam.Enabled = team;
        return Pass(Setup(kind, bias, experts, hidden));
    }

    private static (MoeLayer Layer, Tensor X, Tensor Upstream) Setup(ExpertKind kind, bool bias, int experts, int hidden)
    {
        torch.manual_seed(5);
        var layer = new MoeLayer(new MoeLayerOptions
        {
            DModel = 64, DHidden = hidden, Experts = experts, Kind = kind, Bias = bias, Kernel = GroupedKernel.FusedBlocks,
            Router = new RouterOptions { K = 4 },
        });
        return (layer, torch.randn(new long[] { 1024, 64 }).requires_grad_(true), torch.randn(1024, 64));
    }

    private static Tensor[] Pass((MoeLayer Layer, Tensor X, Tensor Upstream) s) => LayerPass(s.Layer, s.X, s.Upstream);
}
