using MoeLab.Models.Accounting;
using MoeLab.Models.Layers;
using MoeLab.Models.Losses;
using MoeLab.Models.Routing;
using TorchSharp;
using static MoeLab.Models.Tests.TestSupport;
using static TorchSharp.torch;

namespace MoeLab.Models.Tests;

/// <summary>An MoE layer declares its auxiliary losses and routing statistics without computing them; each is
/// computed when first read, as it would have been during the forward pass.</summary>
public class DeferredDiagnosticsTests
{
    private static MoeLayer Layer()
    {
        torch.manual_seed(5);
        return new MoeLayer(new MoeLayerOptions { DModel = 8, DHidden = 16, Experts = 4, Router = new RouterOptions { K = 2 } });
    }

    [Fact]
    public void LossesAreComputedWhenReadWithTheValuesAndGradientsOfAnEagerComputation()
    {
        using var scope = NewDisposeScope();
        var layer = Layer();
        var x = torch.randn(2, 6, 8);
        var o = layer.forward(x);
        Assert.Equal((false, false, false, false), o.Losses.Computed);
        _ = o.Statistics;
        Assert.False(o.Statistics.IsComputed, "reading the record is not reading a statistic");

        // Eager losses of the same routing.
        var r = o.Routing;
        var eager = new[] { AuxiliaryLosses.LoadBalancing(r), AuxiliaryLosses.RouterZ(r.Logits), AuxiliaryLosses.Entropy(r.Probabilities), AuxiliaryLosses.SequenceBalance(r, 2) };
        var deferred = new[] { o.Losses.LoadBalancing, o.Losses.RouterZ, o.Losses.Entropy, o.Losses.SequenceBalance };
        Assert.Equal((true, true, true, true), o.Losses.Computed);
        for (int i = 0; i < 4; i++) Assert.Equal(eager[i].item<float>(), deferred[i].item<float>());
        Assert.Same(deferred[0], o.Losses.LoadBalancing);                                    // computed once

        // Gradients through the router: the same from either.
        layer.zero_grad();
        eager[0].add(eager[1]).add(eager[2]).add(eager[3]).backward(retain_graph: true);
        var expected = layer.Router.GateWeight.grad!.clone();
        layer.zero_grad();
        deferred[0].add(deferred[1]).add(deferred[2]).add(deferred[3]).backward();
        Assert.True(ToArray(expected).SequenceEqual(ToArray(layer.Router.GateWeight.grad!)));
    }

    [Fact]
    public void ALossReadUnderNoGradStillCarriesTheForwardsGraph()
    {
        using var scope = NewDisposeScope();
        var layer = Layer();
        var o = layer.forward(torch.randn(12, 8));
        Tensor lb;
        using (torch.no_grad()) lb = o.Losses.LoadBalancing;
        Assert.True(lb.requires_grad, "the loss must be computed in the gradient mode of the forward pass");
        lb.backward();
        Assert.NotNull(layer.Router.GateWeight.grad);

        // And a forward without gradients gives losses without a graph, wherever they are read.
        MoeOutput evaluation;
        using (torch.no_grad()) evaluation = layer.forward(torch.randn(12, 8));
        Assert.False(evaluation.Losses.RouterZ.requires_grad);
    }

    [Fact]
    public void DeferredValuesBelongToTheForwardsDisposeScope()
    {
        var layer = Layer();
        Tensor lb, perExpert;
        using (var step = NewDisposeScope())
        {
            var o = layer.forward(torch.randn(12, 8));
            using (NewDisposeScope())                       // read inside a short-lived scope (a helper's, say)
            {
                lb = o.Losses.LoadBalancing;
                perExpert = o.Statistics.RoutedPerExpert;
            }
            Assert.False(lb.IsInvalid, "a deferred loss must outlive the scope it was first read in");
            Assert.False(perExpert.IsInvalid, "deferred statistics must outlive the scope they were first read in");
            Assert.Equal(12 * 2, ToLongs(perExpert).Sum());
            Assert.True(step.Contains(lb) && step.Contains(perExpert), "owned by the forward pass's scope");
        }
        Assert.True(lb.IsInvalid && perExpert.IsInvalid, "disposed with the forward pass's scope");
    }

    [Fact]
    public void WeightedComputesOnlyTheLossesItWeights()
    {
        using var scope = NewDisposeScope();
        var o = Layer().forward(torch.randn(12, 8));
        var total = o.Losses.Weighted(new AuxiliaryLossWeights(RouterZ: 1e-3));
        Assert.Equal((false, true, false, false), o.Losses.Computed);
        Assert.Equal(o.Losses.RouterZ.mul(1e-3).item<float>(), total.item<float>());
        // With every weight zero: 0 · L_LB, still in the graph.
        var none = Layer().forward(torch.randn(12, 8)).Losses.Weighted(new AuxiliaryLossWeights());
        Assert.Equal(0f, none.item<float>());
        Assert.True(none.requires_grad);
    }

    [Fact]
    public void StatisticsAreComputedTogetherWhenFirstRead()
    {
        using var scope = NewDisposeScope();
        var o = Layer().forward(torch.randn(12, 8));
        Assert.False(o.Statistics.IsComputed);
        var summary = o.Statistics.Summarize();
        Assert.True(o.Statistics.IsComputed);
        Assert.Equal(24, summary.TokensPerExpert.Sum());
        Assert.Equal(2.0, summary.MeanExpertsPerToken);
        Assert.Equal(0, summary.DroppedAssignments);
        // The same values as statistics made eagerly from the same routing.
        var eager = new RoutingStatistics(o.Statistics.TokensPerExpert, o.Statistics.RoutedPerExpert, o.Statistics.ExpertsPerTokenHistogram,
            o.Statistics.LoadCoefficientOfVariation, o.Statistics.DroppedAssignments, o.Statistics.DroppedTokens);
        Assert.True(eager.IsComputed);
        Assert.Equal(summary.ExpertsPerTokenHistogram, eager.Summarize().ExpertsPerTokenHistogram);
    }
}
