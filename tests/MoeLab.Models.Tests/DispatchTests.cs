using MoeLab.Models.Dispatch;
using MoeLab.Models.Experts;
using MoeLab.Models.Layers;
using MoeLab.Models.Routing;
using TorchSharp;
using static MoeLab.Models.Tests.TestSupport;
using static TorchSharp.torch;

namespace MoeLab.Models.Tests;

public class DispatchTests
{
    public static TheoryData<string> Routers => new() { "topk", "topk-renorm", "topp", "percentile-token", "percentile-batch", "swiglu-bias-shared" };

    private static MoeLayerOptions OptionsFor(string name) => name switch
    {
        "topk" => new MoeLayerOptions { DModel = 12, DHidden = 16, Experts = 6, Router = new RouterOptions { K = 2 } },
        "topk-renorm" => new MoeLayerOptions { DModel = 12, DHidden = 16, Experts = 6, Router = new RouterOptions { K = 3, Renormalize = true } },
        "topp" => new MoeLayerOptions { DModel = 12, DHidden = 16, Experts = 6, Router = new RouterOptions { Kind = RouterKind.TopP, P = 0.5 } },
        "percentile-token" => new MoeLayerOptions { DModel = 12, DHidden = 16, Experts = 6, Router = new RouterOptions { Kind = RouterKind.Percentile, Tau = 0.6, NoiseStd = 0 } },
        "percentile-batch" => new MoeLayerOptions { DModel = 12, DHidden = 16, Experts = 6, Router = new RouterOptions { Kind = RouterKind.Percentile, Tau = 0.7, NoiseStd = 0, PercentileMode = PercentileMode.Batch } },
        "swiglu-bias-shared" => new MoeLayerOptions { DModel = 12, DHidden = 16, Experts = 6, Kind = ExpertKind.SwiGlu, Bias = true, SharedExperts = 1, Router = new RouterOptions { K = 2 } },
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Routers))]
    public void GroupedEqualsReferenceDropless(string router) => CompareGroupedWithReference(OptionsFor(router));

    [Theory]
    [MemberData(nameof(Routers))]
    public void GroupedEqualsReferenceWithCapacityDropping(string router)
    {
        var (dropped, _) = CompareGroupedWithReference(OptionsFor(router) with { CapacityFactor = 0.6 });
        Assert.True(dropped > 0, "capacity factor 0.6 should drop some assignments");
    }

    private static (long Dropped, long Capacity) CompareGroupedWithReference(MoeLayerOptions options)
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(11);
        var grouped = new MoeLayer(options with { Dispatch = DispatchMode.Grouped });
        var reference = new MoeLayer(options with { Dispatch = DispatchMode.Reference });
        reference.load_state_dict(grouped.state_dict());
        grouped.eval(); reference.eval(); // no routing noise: both must take identical decisions
        var input = torch.randn(2, 20, options.DModel);
        var upstream = torch.randn(2, 20, options.DModel);

        var results = new List<(MoeOutput Out, Tensor InputGrad, Dictionary<string, Tensor> Grads)>();
        foreach (var layer in new[] { grouped, reference })
        {
            var x = input.clone().requires_grad_(true);
            var o = layer.forward(x);
            // include an aux loss so router gradients from both paths are compared too
            o.Output.mul(upstream).sum().add(o.Losses.LoadBalancing.mul(0.1)).backward();
            results.Add((o, x.grad!.clone(), layer.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone())));
        }
        var (g, r) = (results[0], results[1]);
        Assert.Equal(ToBools(r.Out.Routing.Dropped), ToBools(g.Out.Routing.Dropped));
        Assert.Equal(ToLongs(r.Out.Statistics.TokensPerExpert), ToLongs(g.Out.Statistics.TokensPerExpert));
        Close(r.Out.Output, g.Out.Output, what: "output");
        Close(r.InputGrad, g.InputGrad, what: "input gradient");
        Assert.Equal(r.Grads.Keys.OrderBy(k => k), g.Grads.Keys.OrderBy(k => k));
        foreach (var (name, grad) in r.Grads)
            Close(grad, g.Grads[name], what: $"gradient of {name}");
        Assert.Contains(g.Grads.Keys, k => k.StartsWith("TopKRouter") || k.StartsWith("TopPRouter") || k.StartsWith("PercentileRouter") || k.Contains("gate"));
        return (g.Out.Statistics.DroppedAssignments.item<long>(), 0);
    }

    [Theory]
    [InlineData(GroupedKernel.Loop, null, RouterKind.TopK)]
    [InlineData(GroupedKernel.Batched, null, RouterKind.TopK)]
    [InlineData(GroupedKernel.Batched, null, RouterKind.TopP)]
    [InlineData(GroupedKernel.Batched, 0.7, RouterKind.Percentile)]
    [InlineData(GroupedKernel.Loop, 0.7, RouterKind.Percentile)]
    [InlineData(GroupedKernel.FusedBlocks, null, RouterKind.TopK)]
    [InlineData(GroupedKernel.FusedPadded, null, RouterKind.TopK)]
    [InlineData(GroupedKernel.FusedBlocks, null, RouterKind.TopP)]
    [InlineData(GroupedKernel.FusedPadded, null, RouterKind.TopP)]
    [InlineData(GroupedKernel.FusedBlocks, 0.7, RouterKind.Percentile)]
    [InlineData(GroupedKernel.FusedPadded, 0.7, RouterKind.Percentile)]
    [InlineData(GroupedKernel.FusedBlocks, 0.6, RouterKind.TopK)]
    public void EachGroupedKernelEqualsReference(GroupedKernel kernel, double? capacityFactor, RouterKind kind)
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(12);
        var bank = new ExpertBank("bank", 5, new FeedForwardShape(8, 12, 8, ExpertKind.SwiGlu, Bias: true));
        var router = new RouterOptions { Kind = kind, K = 2, NoiseStd = 0 }.Create(8, 5);
        var input = torch.randn(30, 8);
        var upstream = torch.randn(30, 8);
        var outputs = new List<(Tensor Out, Tensor XGrad, Tensor[] Grads)>();
        foreach (bool grouped in new[] { true, false })
        {
            bank.zero_grad(); router.zero_grad();
            var x = input.clone().requires_grad_(true);
            var routing = router.forward(x);
            var d = grouped ? GroupedDispatch.Run(bank, x, routing, capacityFactor, kernel) : ReferenceDispatch.Run(bank, x, routing, capacityFactor);
            d.Output.mul(upstream).sum().backward();
            outputs.Add((d.Output.detach(), x.grad!.clone(),
                bank.parameters().Concat(router.parameters()).Select(p => p.grad!.clone()).ToArray()));
        }
        Close(outputs[1].Out, outputs[0].Out, what: "output");
        Close(outputs[1].XGrad, outputs[0].XGrad, what: "input gradient");
        for (int i = 0; i < outputs[0].Grads.Length; i++)
            Close(outputs[1].Grads[i], outputs[0].Grads[i], what: $"parameter gradient {i}");
    }

    /// <summary>The fused per-expert blocks run in parallel when torch has several threads (one block per
    /// worker): the bits must not depend on that, an idle expert must get exactly zero gradient, and all of
    /// it must equal the reference dispatch.</summary>
    [Fact]
    public void FusedBlocksGiveTheSameBitsWithOneOrTwoThreadsAndZeroGradientForAnIdleExpert()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(13);
        var bank = new ExpertBank("bank", 6, new FeedForwardShape(8, 12, 8, ExpertKind.SwiGlu, Bias: true));
        var input = torch.randn(40, 8);
        var logitsBase = torch.randn(40, 6).index_put_(torch.tensor(-1e4f), TensorIndex.Colon, TensorIndex.Single(5)); // expert 5 never chosen
        var upstream = torch.randn(40, 8);
        var results = new List<float[][]>();
        foreach (var (mode, n) in new[] { (DispatchMode.Grouped, 1), (DispatchMode.Grouped, 2), (DispatchMode.Reference, 1) })
        {
            results.Add(DispatchWithGradients(bank, input, logitsBase, upstream, 2, mode, n));
            if (mode == DispatchMode.Grouped)
                foreach (var p in bank.parameters()) Assert.All(ToArray(p.grad![5]), v => Assert.Equal(0f, v));
        }
        for (int i = 0; i < results[0].Length; i++)
        {
            Assert.Equal(results[0][i], results[1][i]);   // bitwise, one vs two threads
            for (int j = 0; j < results[0][i].Length; j++)
                Assert.True(Math.Abs(results[0][i][j] - results[2][i][j]) <= 1e-5 + 1e-4 * Math.Abs(results[2][i][j]),
                    $"quantity {i}, element {j}: fused {results[0][i][j]}, reference {results[2][i][j]}");
        }
    }

    /// <summary>Large blocks (mean matmul above the parallel threshold) run one after another with every torch
    /// thread: the bits must still not depend on the thread count.</summary>
    [Fact]
    public void FusedLargeBlocksGiveTheSameBitsWithOneOrTwoThreads()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(17);
        // 2 experts, d 256, d_ff 1024, 512 tokens top-1: ≈ 256 rows × 262,144 multiply-adds ≈ 2^26 per block, and above.
        var bank = new ExpertBank("bank", 2, new FeedForwardShape(256, 1024, 256, ExpertKind.Gelu, Bias: true));
        var input = torch.randn(640, 256);
        var logitsBase = torch.randn(640, 2);
        var upstream = torch.randn(640, 256);
        Assert.True(640.0 / 2 * 256 * 1024 >= 1 << 26); // the sequential branch is the one under test
        var results = new[] { 1, 2 }.Select(n => DispatchWithGradients(bank, input, logitsBase, upstream, 1, DispatchMode.Grouped, n)).ToList();
        for (int i = 0; i < results[0].Length; i++)
            Assert.Equal(results[0][i], results[1][i]); // bitwise, one vs two threads
    }

    /// <summary>One dispatch (fused blocks, or the reference) of top-<paramref name="k"/> softmax routing on
    /// <paramref name="logitsBase"/> with <paramref name="threads"/> torch threads, then backward of ⟨output, upstream⟩:
    /// output, input gradient, logit gradient and every parameter gradient, as arrays.</summary>
    private static float[][] DispatchWithGradients(ExpertBank bank, Tensor input, Tensor logitsBase, Tensor upstream, int k, DispatchMode mode, int threads)
    {
        int previous = torch.get_num_threads();
        torch.set_num_threads(threads);
        try
        {
            bank.zero_grad();
            var x = input.clone().requires_grad_(true);
            var logits = logitsBase.clone().requires_grad_(true);
            var probs = logits.softmax(-1);
            var (top, idx) = probs.topk(k, -1);
            var routing = RoutingResult.Create(logits, probs, idx, top, torch.ones(idx.shape, dtype: ScalarType.Bool), (int)logitsBase.shape[1]);
            var d = mode == DispatchMode.Grouped ? GroupedDispatch.Run(bank, x, routing, null, GroupedKernel.FusedBlocks) : ReferenceDispatch.Run(bank, x, routing);
            d.Output.mul(upstream).sum().backward();
            return new[] { ToArray(d.Output), ToArray(x.grad!), ToArray(logits.grad!) }.Concat(bank.parameters().Select(p => ToArray(p.grad!))).ToArray();
        }
        finally { torch.set_num_threads(previous); }
    }

    [Fact]
    public void CapacityKeepsFirstChoicesBeforeSecondChoices()
    {
        using var scope = NewDisposeScope();
        // 4 tokens, 2 experts, top-2: every token picks both; slot 0 = expert 0 for tokens 0,1,2 and expert 1 for token 3.
        var indices = torch.tensor(new long[] { 0, 1, 0, 1, 0, 1, 1, 0 }).reshape(4, 2);
        var weights = torch.full(4, 2, 0.5f);
        var valid = torch.ones(4, 2, dtype: ScalarType.Bool);
        var probs = torch.full(4, 2, 0.5f);
        var routing = RoutingResult.Create(probs.log(), probs, indices, weights, valid, 2);
        var bank = new ExpertBank("bank", 2, new FeedForwardShape(3, 4, 3));
        var x = torch.randn(4, 3);
        // C = ceil(0.5 · 8 / 2) = 2: expert 0 keeps tokens 0,1 (first choices); token 2's first choice is dropped;
        // expert 1 keeps token 3 (first choice) and token 0 (second choice).
        var g = GroupedDispatch.Run(bank, x, routing, capacityFactor: 0.5);
        var r = ReferenceDispatch.Run(bank, x, routing, capacityFactor: 0.5);
        Assert.Equal(2, g.Capacity);
        var expected = new[] { false, false, false, true, true, true, false, true };
        Assert.Equal(expected, ToBools(g.Routing.Dropped));
        Assert.Equal(expected, ToBools(r.Routing.Dropped));
        Close(r.Output, g.Output, what: "output");
        Close(torch.zeros(3), g.Output[2], what: "fully dropped token gets zero");
    }

    /// <summary>The profile's floor runs exactly the routed pass's expert work: on tokens already sorted by expert, one
    /// slot each with weight 1 (gather and combine then copy values unchanged), the fused dispatch's output, input
    /// gradient and every parameter gradient equal <see cref="FusedGroupedDispatch.ExpertsAlone"/>'s bit for bit — for
    /// small blocks (parallel chunks with two threads) and for large ones (one chunk, blocks in turn).</summary>
    [Theory]
    [InlineData(16, 24, true, new long[] { 5, 0, 9, 2, 11, 1 })]
    [InlineData(256, 512, false, new long[] { 700, 0, 610 })]
    public void ExpertsAloneMatchesTheRoutedPassBitForBit(int d, int hidden, bool bias, long[] counts)
    {
        using var scope = NewDisposeScope();
        int previous = torch.get_num_threads();
        torch.set_num_threads(2);
        try
        {
            torch.manual_seed(3);
            int n = counts.Length, t = (int)counts.Sum();
            var bank = new ExpertBank("bank", n, new FeedForwardShape(d, hidden, d, Bias: bias));
            var x = torch.randn(t, d);
            var upstream = torch.randn(t, d);
            var expert = Enumerable.Range(0, n).SelectMany(e => Enumerable.Repeat((long)e, (int)counts[e])).ToArray();
            var indices = torch.tensor(expert).reshape(t, 1);
            var probs = torch.full(t, n, 1f / n);
            var routing = RoutingResult.Create(probs.log(), probs, indices, torch.ones(t, 1), torch.ones(t, 1, dtype: ScalarType.Bool), n);
            var input = x.clone().requires_grad_(true);
            var routed = GroupedDispatch.Run(bank, input, routing, null, GroupedKernel.FusedBlocks);
            routed.Output.mul(upstream).sum().backward();

            var (output, backward) = FusedGroupedDispatch.ExpertsAlone(bank, x, counts);
            var grads = backward(upstream);
            Assert.Equal(ToArray(routed.Output), ToArray(output));
            Assert.Equal(ToArray(input.grad!), ToArray(grads[0]!));
            Assert.Equal(ToArray(bank.InputWeight.grad!), ToArray(grads[1]!));
            Assert.Equal(ToArray(bank.OutputWeight.grad!), ToArray(grads[2]!));
            Assert.Equal(bias, grads[3] is not null && grads[4] is not null);
            if (bias)
            {
                Assert.Equal(ToArray(bank.InputBias!.grad!), ToArray(grads[3]!));
                Assert.Equal(ToArray(bank.OutputBias!.grad!), ToArray(grads[4]!));
            }
            Assert.Throws<ArgumentException>(() => FusedGroupedDispatch.ExpertsAlone(bank, x, counts.Select(c => c + 1).ToArray()));
        }
        finally { torch.set_num_threads(previous); }
    }
}
