using MoeLab.Experiments.Runtime;
using MoeLab.Experiments.Training;
using MoeLab.Models.Layers;
using MoeLab.Models.Routing;
using MoeLab.Models.Transformer;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Experiments.Tests.Training;

/// <summary>Steady-state memory of the training loop: a tiny MoE decoder LM (fused dispatch, aux losses,
/// AdamW, gradient clipping) trained for 10,000 steps through the shared <see cref="Trainer"/>. After a
/// warm-up, the number of live managed tensors must come back to the same count after every step (no
/// leaked tensor), and the resident set must stay flat (no native leak: a leaked autograd node or saved
/// tensor would show up here even though no managed tensor leaks). Slow (minutes on a busy 2-core
/// machine); `.ci/run` runs it explicitly.</summary>
public class MemoryStabilityTests
{
    private const int Steps = 10_000, Warmup = 500, SampleEvery = 500;

    /// <summary>Samples after each step's dispose scope has closed (the trainer reports progress there).</summary>
    private sealed class Sampler : IProgressSink
    {
        public List<(long Step, long Tensors, double RssMiB)> Samples { get; } = new();

        public void Report(string phase, long step, long total, double? loss)
        {
            if (step % SampleEvery != 0) return;
            GC.Collect();
            GC.WaitForPendingFinalizers();
            Samples.Add((step, torch.Tensor.TotalCount, ProcessMemory.CurrentResidentMiB()));
        }

        public void Log(string message) { }
    }

    private sealed class Task(DecoderLanguageModel model, Tensor tokens, int batch, int length) : ITrainingTask
    {
        public long ItemsPerMicroBatch => batch * length;

        public Tensor Loss(long step, int microBatch)
        {
            long windows = tokens.shape[0] - length - 1;
            var starts = torch.arange(batch).mul(37).add(step * 11).remainder(windows);          // [B]
            var offsets = torch.arange(length + 1).unsqueeze(0).add(starts.unsqueeze(1));        // [B, T+1]
            var window = tokens.index_select(0, offsets.reshape(-1)).reshape(batch, length + 1); // [B, T+1]
            var o = model.forward(window.narrow(1, 0, length));
            return DecoderLanguageModel.NextTokenLoss(o.Logits, window.narrow(1, 1, length))
                .add(o.AuxiliaryLoss(new Models.Losses.AuxiliaryLossWeights(LoadBalancing: 0.01, RouterZ: 0.001)));
        }

        public IReadOnlyDictionary<string, double> Evaluate() => new Dictionary<string, double> { ["val_loss"] = 0 };
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void TrainingLoopKeepsTensorCountAndResidentSetFlatOver10000Steps()
    {
        int threads = torch.get_num_threads();
        torch.set_num_threads(1); // tiny tensors: one thread avoids OpenMP hand-offs on a busy machine
        try { Train(); }
        finally { torch.set_num_threads(threads); }
    }

    private static void Train()
    {
        torch.manual_seed(3);
        var moe = new MoeLayerOptions
        {
            DModel = 32, DHidden = 32, Experts = 8, SharedExperts = 1, SharedHidden = 16,
            Router = new RouterOptions { Kind = RouterKind.TopK, K = 2, Renormalize = true },
        };
        var model = new DecoderLanguageModel(new DecoderLanguageModelOptions
        {
            Vocabulary = 64, DModel = 32, Layers = 2, Heads = 4, MaxSequenceLength = 16, FeedForward = moe,
        });
        var tokens = torch.randint(0, 64, new long[] { 4096 }, dtype: int64);
        var optimizer = Optimizers.AdamW(model.parameters(), lr: 1e-3);
        var sampler = new Sampler();
        var samples = sampler.Samples;
        var ctx = new InMemoryRunContext("memory", "test", seed: 0, progress: sampler, seedTorch: false);
        var outcome = Trainer.Run(ctx, model, optimizer, new Task(model, tokens, batch: 4, length: 16), new TrainerOptions
        {
            Steps = Steps, Schedule = new ConstantSchedule(1e-3), LogEvery = 1000, EvalEvery = Steps, ClipNorm = 1.0,
        });

        Assert.Equal(Steps, outcome.Steps);
        Assert.True(double.IsFinite(outcome.LastTrainLoss), "training diverged");
        var steady = samples.Where(s => s.Step >= Warmup).ToList();
        Assert.Equal(Steps / SampleEvery - Warmup / SampleEvery + 1, steady.Count);
        string table = string.Join("\n", samples.Select(s => $"step {s.Step,6}: {s.Tensors} live tensors, RSS {s.RssMiB:F1} MiB"));
        // Sampled after each step's scope closed: the live-tensor count must not move at all.
        Assert.True(steady.All(s => s.Tensors == steady[0].Tensors), $"live tensor count changes between steps (a leak):\n{table}");
        // RSS: allow the allocator some slack (arena growth, fragmentation), but not a per-step leak:
        // 9,500 steps leaking even 4 KB each would add ≈ 37 MiB.
        double growth = steady[^1].RssMiB - steady[0].RssMiB;
        double firstHalf = steady[steady.Count / 2].RssMiB - steady[0].RssMiB, secondHalf = steady[^1].RssMiB - steady[steady.Count / 2].RssMiB;
        Assert.True(growth < 24, $"resident set grew by {growth:F1} MiB from step {steady[0].Step} to {steady[^1].Step}:\n{table}");
        Assert.True(secondHalf < 12, $"resident set still growing in the second half ({secondHalf:F1} MiB; first half {firstHalf:F1} MiB):\n{table}");
    }
}
