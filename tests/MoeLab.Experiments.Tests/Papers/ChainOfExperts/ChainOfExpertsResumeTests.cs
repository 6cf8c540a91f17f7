using MoeLab.Experiments.Papers.ChainOfExperts;
using MoeLab.Experiments.Runtime;
using MoeLab.Experiments.Tests.Runtime;

namespace MoeLab.Experiments.Tests.Papers.ChainOfExperts;

/// <summary>Interrupt inside an arm (as Ctrl+C does), resume on the same checkpoint store with a fresh
/// context, and compare with an uninterrupted run: every summary value except wall-clock and memory
/// figures, and the whole history, must be identical.</summary>
[Collection(nameof(ChainOfExpertsSmokeTests))]
public sealed class ChainOfExpertsResumeTests
{

    private static readonly string[] Measured = ["train_seconds", "tokens_per_second", "peak_rss_mib"];

    [Fact]
    public void InterruptedAndResumedEqualsUninterruptedRun()
    {
        var experiment = new ChainOfExpertsExperiment();
        var config = ChainOfExpertsExperiment.Smoke with
        {
            Arms = ["moe-k", "coe-c2-half-k", "dense-c2"],
            Train = ChainOfExpertsExperiment.Smoke.Train with { Steps = 6, CheckpointEvery = 2, EvalEvery = 3 },
        };
        const long seed = 2;
        var full = new InMemoryRunContext("chain-of-experts", "smoke", seed);
        experiment.Run(config, full);

        var store = new InMemoryCheckpointStore();
        using (var cts = new CancellationTokenSource())
        {
            var first = new InMemoryRunContext("chain-of-experts", "smoke", seed, cancellation: cts.Token, checkpoints: store,
                progress: new CancelAtStep(cts, 3, phase: "coe-c2-half-k"));
            Assert.ThrowsAny<OperationCanceledException>(() => experiment.Run(config, first));
            Assert.Equal(["moe-k"], first.Summary.Select(r => r.Arm));
        }
        var second = new InMemoryRunContext("chain-of-experts", "smoke", seed, checkpoints: store);
        experiment.Run(config, second);
        Assert.Contains(second.LogLines, l => l.Contains("coe-c2-half-k: resuming from checkpoint at step 3"));
        Assert.Contains(second.LogLines, l => l.Contains("moe-k: finished before this resume"));

        Assert.Equal(full.Summary.Select(r => r.Arm), second.Summary.Select(r => r.Arm));
        foreach (var row in full.Summary)
        {
            var resumed = second.SummaryByArm[row.Arm];
            foreach (var (key, value) in row.Values.Where(kv => !Measured.Contains(kv.Key)))
                Assert.True(value.Equals(resumed.Values[key]), $"{row.Arm}.{key}: {value} vs {resumed.Values[key]}");
        }
        // the resumed history of the interrupted arm continues exactly where the checkpoint left it
        var fullCoe = full.Metrics.Where(m => m.Arm == "coe-c2-half-k").ToList();
        var resumedCoe = second.Metrics.Where(m => m.Arm == "coe-c2-half-k").ToList();
        Assert.Equal(fullCoe.Where(m => m.Step > 3), resumedCoe);
        Assert.Equal(full.Metrics.Where(m => m.Arm == "dense-c2"), second.Metrics.Where(m => m.Arm == "dense-c2"));
    }
}
