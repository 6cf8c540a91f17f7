using MoeLab.Models.Routing;
using TorchSharp;
using static MoeLab.Models.Tests.TestSupport;
using static TorchSharp.torch;

namespace MoeLab.Models.Tests;

/// <summary>The C# top-k choice of wide routers (<see cref="TopKSelection"/>) makes LibTorch's <c>topk</c> choice, and
/// leaves ties to it.</summary>
public class TopKSelectionTests
{
    [Theory]
    [InlineData(64, 1, 1)]
    [InlineData(128, 8, 2)]
    [InlineData(256, 16, 2)]
    [InlineData(256, 8, 1)]
    [InlineData(100, 3, 2)]     // no split into k groups of whole vectors: every entry is inserted
    public void TheSelectionIsTopksChoiceInTopksOrder(int experts, int k, int threads)
    {
        using var scope = NewDisposeScope();
        int previous = torch.get_num_threads();
        torch.set_num_threads(threads);
        try
        {
            torch.manual_seed(experts + k);
            var probs = torch.randn(4099, experts).mul(3).softmax(-1);
            var chosen = TopKSelection.Indices(probs, k);
            Assert.True(TopKSelection.LastUndecidedRows < 4099 / 100, $"{TopKSelection.LastUndecidedRows} of 4,099 rows left to topk");
            var (values, indexes) = probs.topk(k, dim: -1);
            Assert.Equal(ToLongs(indexes), ToLongs(chosen));
            Assert.Equal(ToArray(values), ToArray(probs.gather(1, chosen)));
        }
        finally { torch.set_num_threads(previous); }
    }

    [Theory]
    [InlineData("two kept values equal")]
    [InlineData("a value equal to the k-th")]
    [InlineData("NaN")]
    public void RowsWithTiesOrNaNsAreLeftToTopk(string row)
    {
        using var scope = NewDisposeScope();
        var rng = new Random(1);
        var p = new float[10 * 64];
        for (int i = 0; i < p.Length; i++) p[i] = (float)rng.NextDouble() * 0.01f;   // all below the values set here
        switch (row)
        {
            case "two kept values equal": p[3 * 64 + 5] = 0.5f; p[3 * 64 + 40] = 0.5f; break;
            case "a value equal to the k-th": p[3 * 64 + 5] = 0.5f; p[3 * 64 + 6] = 0.4f; p[3 * 64 + 50] = 0.4f; break; // k = 2
            case "NaN": p[7 * 64 + 9] = float.NaN; break;
        }
        var probs = torch.tensor(p).reshape(10, 64);
        var chosen = TopKSelection.Indices(probs, 2);
        Assert.Equal(1, TopKSelection.LastUndecidedRows);
        Assert.Equal(ToLongs(probs.topk(2, dim: -1).indexes), ToLongs(chosen));            // that row too: topk's choice
        // Equal values below the kept ones do not matter.
        for (int i = 0; i < p.Length; i++) p[i] = 1 + (float)rng.NextDouble();
        p[2 * 64 + 60] = 0.25f;
        p[2 * 64 + 61] = 0.25f;
        TopKSelection.Indices(torch.tensor(p).reshape(10, 64), 2);
        Assert.Equal(0, TopKSelection.LastUndecidedRows);
    }

    [Fact]
    public void AWideRoutersRoutingAndGradientsAreTheSameBitsWithEitherChoice()
    {
        Assert.True(TopKSelection.Applies(torch.zeros(4, TopKSelection.MinimumExperts), 8));
        Assert.False(TopKSelection.Applies(torch.zeros(4, TopKSelection.MinimumExperts - 1), 8));
        (long[], float[], float[]) Route(bool selection)
        {
            TopKSelection.Enabled = selection;
            torch.manual_seed(4);
            var router = new TopKRouter(32, 128, k: 8, renormalize: true);
            var x = torch.randn(500, 32);
            var r = router.Route(x, 500);
            if (selection) Assert.True(TopKSelection.Indices(r.Probabilities, 8) is not null && TopKSelection.LastUndecidedRows < 500, "the C# choice was made");
            r.Weights.mul(torch.randn(500, 8)).sum().add(r.Probabilities.square().sum()).backward();
            return (ToLongs(r.ExpertIndices), ToArray(r.Weights), ToArray(router.GateWeight.grad!));
        }
        try
        {
            var (i1, w1, g1) = Route(true);
            var (i2, w2, g2) = Route(false);
            Assert.Equal(i2, i1);
            Assert.Equal(w2, w1);
            Assert.Equal(g2, g1);
        }
        finally { TopKSelection.Enabled = true; }
    }
}
