using MoeLab.Models.Dispatch;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Models.Tests;

/// <summary>How the fused dispatch's blocks layout runs its experts (<see cref="FusedGroupedDispatch.Schedule"/>): small
/// blocks in parallel chunks, mid-sized ones in parallel only with enough chunks for every thread, the largest one after
/// another with every thread.</summary>
public class BlockScheduleTests
{
    private static FusedGroupedDispatch.Schedule Make(int experts, long rowsEach, int d, int hidden, int threads)
    {
        int previous = torch.get_num_threads();
        torch.set_num_threads(threads);
        try
        {
            var counts = Enumerable.Repeat(rowsEach, experts).ToArray();
            var plan = new FusedGroupedDispatch.Plan
            {
                Tokens = (int)(rowsEach * experts), Slots = 1, Experts = experts, Counts = counts,
                RowTokens = torch.empty(0, dtype: ScalarType.Int32), SlotRows = torch.empty(0, dtype: ScalarType.Int32), Dropped = null,
                Layout = FusedLayout.Blocks, Largest = (int)rowsEach, Rows = (int)(rowsEach * experts),
            };
            return FusedGroupedDispatch.Schedule.Make(plan, (long)d * hidden, hidden);
        }
        finally { torch.set_num_threads(previous); }
    }

    [Fact]
    public void SmallBlocksRunInParallelChunks()
    {
        var s = Make(32, 512, 256, 256, threads: 2);                 // E 32 top-4 at T 4,096: 2^25 per block
        Assert.True(s.Parallel);
        Assert.True(s.Chunks.Length >= FusedGroupedDispatch.Schedule.MinimumChunks, $"{s.Chunks.Length} chunks");
    }

    [Fact]
    public void MidSizedBlocksRunInParallelWhenEveryThreadGetsEnoughChunks()
    {
        var e8 = Make(8, 1024, 256, 1024, threads: 2);               // E 8 top-2 at T 4,096: 2^28 per block, 8 chunks
        Assert.True(e8.Parallel);
        Assert.Equal(8, e8.Chunks.Length);
        var e4 = Make(4, 2048, 256, 1024, threads: 2);               // 2^29 per block but only 4 chunks for 2 threads
        Assert.False(e4.Parallel);
        Assert.Single(e4.Chunks);
        var oneThread = Make(8, 1024, 256, 1024, threads: 1);
        Assert.False(oneThread.Parallel);
        Assert.Single(oneThread.Chunks);
    }

    [Fact]
    public void TheLargestBlocksRunOneAfterAnotherWithEveryThread()
    {
        var s = Make(8, 4096, 256, 1024, threads: 2);                // E 8 top-2 at T 16,384: 2^30 per block
        Assert.False(s.Parallel);
        Assert.Single(s.Chunks);
        Assert.Equal(8, s.Blocks.Length);
    }
}
