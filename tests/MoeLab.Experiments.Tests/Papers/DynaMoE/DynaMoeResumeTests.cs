using Microsoft.Data.Analysis;
using MoeLab.Experiments.Papers.DynaMoE;
using MoeLab.Experiments.Runtime;

namespace MoeLab.Experiments.Tests.Papers.DynaMoE;

/// <summary>Checkpointing: interrupt (cancellation token, as Ctrl+C does) in the middle of an arm after
/// k completed arms, resume with a fresh context on the same checkpoint store, and compare with an
/// uninterrupted run: summary rows (all values except wall-clock timings, and labels), run-level
/// tables and the history of every arm must be identical on CPU. The interrupted arm continues from
/// its checkpoint (model, optimiser, torch generator: the routers draw noise while training), so the
/// processes' histories add up to the uninterrupted one with nothing lost or repeated.</summary>
[Collection(nameof(DynaMoeSmokeTests))]
public sealed class DynaMoeResumeTests
{
    /// <summary>Cancels at step 2 of <paramref name="arm"/> (after its first logged row, before its last
    /// step): the trainer saves a checkpoint at step 2 and throws.</summary>
    private sealed class CancelInArm(CancellationTokenSource cts, string arm) : IProgressSink
    {
        public void Report(string phase, long s, long total, double? loss)
        {
            if (phase == arm && s >= 2 && s < total) cts.Cancel();
        }

        public void Log(string message) { }
    }

    private static readonly string[] Timings = ["train_seconds", "wall_seconds"];

    // dense, uniform-top1, uniform-batch-matched, descending-batch-matched, uniform-top-p
    private static DynaMoeImagesConfig ImagesConfig() => DynaMoeImagesExperiment.Smoke with
    {
        Arms = new DynaMoeArmsConfig { Schedules = ["uniform", "descending"], BudgetModes = ["matched"], UniformPerTokenPercentile = false },
    };

    [Fact]
    public void ImagesInterruptedTwiceAndResumedEqualsUninterruptedRun()
    {
        var experiment = new DynaMoeImagesExperiment();
        var config = ImagesConfig();
        var arms = DynaMoeArm.Enumerate(config.Model, config.Arms).Select(a => a.Name).ToList();
        Assert.Equal(5, arms.Count);
        const long seed = 3;

        var full = new InMemoryRunContext("dynamoe-images", "smoke", seed);
        experiment.Run(config, full);

        var store = new InMemoryCheckpointStore();
        // 1st run: arms 0 and 1 complete, interrupted inside arm 2.
        var first = Interrupted(experiment, config, seed, store, arms[2]);
        Assert.Equal(arms.Take(2), first.Summary.Select(r => r.Arm));
        Assert.Equal(2, store.LoadJson<DynaMoeArmsCheckpoint>(DynaMoeRunner.CheckpointEntry)!.Completed.Count);
        Assert.Empty(first.Tables);

        // 2nd run: restores 2 arms, completes arms 2 and 3, interrupted inside arm 4.
        var second = Interrupted(experiment, config, seed, store, arms[4]);
        Assert.Equal(arms.Take(4), second.Summary.Select(r => r.Arm));
        Assert.DoesNotContain(second.Metrics, m => m.Arm == arms[0] || m.Arm == arms[1]); // restored arms are not retrained
        Assert.Contains(second.LogLines, l => l.StartsWith("resuming: 2 of 5 arms restored"));

        // 3rd run: restores 4 arms and finishes.
        var third = new InMemoryRunContext("dynamoe-images", "smoke", seed, checkpoints: store);
        experiment.Run(config, third);
        Assert.Contains(third.LogLines, l => l.StartsWith("resuming: 4 of 5 arms restored"));

        AssertSameResults(full, third);
        Assert.Equal(["experts_per_token", "schedule"], third.Tables.Keys.Order());
        Assert.Single(third.Figures);
        // History: the interrupted arms continue where they stopped; the three processes' rows add up to the full run's.
        Assert.Contains(third.LogLines, l => l.StartsWith($"{arms[4]}: resuming from checkpoint at step 2"));
        Assert.Equal(full.Metrics, first.Metrics.Concat(second.Metrics).Concat(third.Metrics).ToList());
    }

    [Fact]
    public void LmInterruptedAndResumedEqualsUninterruptedRun()
    {
        var experiment = new DynaMoeLmExperiment();
        var config = DynaMoeLmExperiment.Smoke;
        var arms = DynaMoeArm.Enumerate(config.Model, config.Arms).Select(a => a.Name).ToList();
        const long seed = 4;

        var full = new InMemoryRunContext("dynamoe-lm", "smoke", seed);
        experiment.Run(config, full);

        var store = new InMemoryCheckpointStore();
        var first = Interrupted(experiment, config, seed, store, arms[1]);
        Assert.Equal(arms.Take(1), first.Summary.Select(r => r.Arm));
        var second = new InMemoryRunContext("dynamoe-lm", "smoke", seed, checkpoints: store);
        experiment.Run(config, second);

        AssertSameResults(full, second);
        Assert.Equal(full.Metrics, first.Metrics.Concat(second.Metrics).ToList());
    }

    [Fact]
    public void CheckpointOfAnotherArmListIsRejectedNamingTheArms()
    {
        var experiment = new DynaMoeImagesExperiment();
        var config = ImagesConfig();
        var store = new InMemoryCheckpointStore();
        var arms = DynaMoeArm.Enumerate(config.Model, config.Arms).Select(a => a.Name).ToList();
        Interrupted(experiment, config, 1, store, arms[1]);

        var other = config with { Arms = config.Arms with { Dense = false } };
        var e = Assert.Throws<InvalidOperationException>(() =>
            experiment.Run(other, new InMemoryRunContext("dynamoe-images", "smoke", 1, checkpoints: store)));
        Assert.Contains("'dense'", e.Message);
        Assert.Contains(DynaMoeRunner.CheckpointEntry, e.Message);
    }

    private static InMemoryRunContext Interrupted<TConfig>(Experiment<TConfig> experiment, TConfig config, long seed,
        InMemoryCheckpointStore store, string cancelInArm) where TConfig : class
    {
        using var cts = new CancellationTokenSource();
        var ctx = new InMemoryRunContext(experiment.Name, "smoke", seed, cancellation: cts.Token, checkpoints: store,
            progress: new CancelInArm(cts, cancelInArm));
        Assert.ThrowsAny<OperationCanceledException>(() => experiment.Run(config, ctx));
        Assert.True(cts.IsCancellationRequested);
        Assert.Contains(ctx.Metrics, m => m.Arm == cancelInArm); // interrupted inside that arm, not before it
        return ctx;
    }

    private static void AssertSameResults(InMemoryRunContext expected, InMemoryRunContext actual)
    {
        Assert.Equal(expected.Summary.Select(r => r.Arm), actual.Summary.Select(r => r.Arm));
        foreach (var (e, a) in expected.Summary.Zip(actual.Summary))
        {
            Assert.Equal(Comparable(e.Values), Comparable(a.Values));
            Assert.Equal(e.Labels.OrderBy(kv => kv.Key), a.Labels.OrderBy(kv => kv.Key));
        }
        foreach (string table in new[] { "experts_per_token", "schedule" })
            Assert.Equal(Rows(expected.Tables[table]), Rows(actual.Tables[table]));
    }

    private static List<KeyValuePair<string, double>> Comparable(IReadOnlyDictionary<string, double> values) =>
        values.Where(kv => !Timings.Contains(kv.Key)).OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList();

    private static List<string> Rows(DataFrame table) =>
        table.Rows.Select(r => string.Join("|", r.Select(v => v is double d ? d.ToString("R") : v?.ToString()))).ToList();
}
