using MoeLab.Models.Routing;
using TorchSharp;
using static MoeLab.Models.Tests.TestSupport;
using static TorchSharp.torch;

namespace MoeLab.Models.Tests;

public class RouterTests
{
    [Fact]
    public void TopKChoosesTheLargestAndRenormalisesWhenAsked()
    {
        using var scope = NewDisposeScope();
        var logits = LogitsOf(new float[,] { { 0.1f, 0.5f, 0.15f, 0.25f } });
        var raw = new TopKRouter(4, 4, k: 2, renormalize: false).Select(logits);
        Assert.Equal(new long[] { 1, 3 }, ToLongs(raw.ExpertIndices));
        Close(torch.tensor(new float[] { 0.5f, 0.25f }).reshape(1, 2), raw.Weights, what: "raw top-2");
        var renormalised = new TopKRouter(4, 4, k: 2, renormalize: true).Select(logits);
        Close(torch.tensor(new float[] { 0.5f / 0.75f, 0.25f / 0.75f }).reshape(1, 2), renormalised.Weights, what: "renormalised top-2");
    }

    [Fact]
    public void TopPKeepsTheSmallestPrefixWhoseMassExceedsP()
    {
        using var scope = NewDisposeScope();
        var logits = LogitsOf(new float[,]
        {
            { 0.5f, 0.3f, 0.15f, 0.05f },   // p=0.6: 0.5 ≤ 0.6, 0.8 > 0.6 → experts 0,1
            { 0.1f, 0.2f, 0.3f, 0.4f },     // 0.4 ≤ 0.6, 0.7 > 0.6 → experts 3,2
            { 0.7f, 0.1f, 0.1f, 0.1f },     // 0.7 > 0.6 → expert 0 only
            { 0.05f, 0.05f, 0.45f, 0.45f }, // 0.45, 0.9 → experts 2,3 (stable order among ties)
        });
        var r = new TopPRouter(4, 4, p: 0.6).Select(logits);
        Assert.Equal(2, r.MaxSlots);
        Assert.Equal(new long[] { 0, 1, 3, 2, 0, 0, 2, 3 }, ToLongs(r.ExpertIndices));
        Assert.Equal(new[] { true, true, true, true, true, false, true, true }, ToBools(r.Valid));
        // raw probabilities, not renormalised; 0 on the invalid slot
        Close(torch.tensor(new float[] { 0.5f, 0.3f, 0.4f, 0.3f, 0.7f, 0f, 0.45f, 0.45f }).reshape(4, 2), r.Weights, what: "top-p weights");

        var low = new TopPRouter(4, 4, p: 0.42).Select(logits); // 0.5 | 0.4, 0.7 | 0.7 | 0.45 > 0.42
        Assert.Equal(new long[] { 1, 2, 1, 1 }, ToLongs(low.ExpertsPerUnit));
    }

    [Fact]
    public void PerTokenPercentileKeepsGatesAtOrAboveTheTokensOwnQuantileWithTies()
    {
        using var scope = NewDisposeScope();
        // temperature 1 so g = the given probabilities; eval mode → no noise
        var logits = LogitsOf(new float[,]
        {
            { 0.1f, 0.2f, 0.3f, 0.4f },     // τ=0.5: position 1.5 → θ = 0.25 → {3, 2}
            { 0.25f, 0.25f, 0.25f, 0.25f }, // every gate is at θ = 0.25 → all four kept
        });
        var router = new PercentileRouter(4, 4, tau: 0.5, PercentileMode.PerToken, temperature: 1, noiseStd: 0.1);
        router.eval();
        var r = router.Select(logits);
        Assert.Equal(new long[] { 3, 2, 0, 0, 0, 1, 2, 3 }, ToLongs(r.ExpertIndices));
        Assert.Equal(new[] { true, true, false, false, true, true, true, true }, ToBools(r.Valid));
        Close(torch.tensor(new float[] { 0.4f / 0.7f, 0.3f / 0.7f, 0f, 0f, 0.25f, 0.25f, 0.25f, 0.25f }).reshape(2, 4), r.Weights, what: "renormalised percentile weights");

        // τ = 0.9: position 2.7 → θ = 0.3 + 0.7·0.1 = 0.37 → only expert 3
        var high = new PercentileRouter(4, 4, tau: 0.9, PercentileMode.PerToken, temperature: 1, noiseStd: 0);
        var h = high.Select(logits.narrow(0, 0, 1));
        Assert.Equal(new long[] { 3 }, ToLongs(h.ExpertIndices));
    }

    [Theory]
    // N = 5, τ = 0.75: position τ(N−1) = 3 is a gate value, θ = 0.3; at or above it: 0.4, 0.3.
    [InlineData(new[] { 0.05f, 0.1f, 0.15f, 0.3f, 0.4f }, new long[] { 4, 3 })]
    // N = 9, τ = 0.75: position 6, θ = 0.14; at or above it: 0.24, 0.2, 0.14.
    [InlineData(new[] { 0.02f, 0.04f, 0.06f, 0.08f, 0.1f, 0.12f, 0.14f, 0.2f, 0.24f }, new long[] { 8, 7, 6 })]
    public void PerTokenPercentileKeepsTheGatesAtOrAboveTheQuantile(float[] probabilities, long[] expected)
    {
        using var scope = NewDisposeScope();
        int n = probabilities.Length;
        var p = new float[1, n];
        for (int i = 0; i < n; i++) p[0, i] = probabilities[i];
        var router = new PercentileRouter(4, n, tau: 0.75, PercentileMode.PerToken, temperature: 1, noiseStd: 0);
        var r = router.Select(LogitsOf(p));
        Assert.Equal(expected, ToLongs(r.ExpertIndices));
        Assert.Equal(n - (long)Math.Ceiling(0.75 * (n - 1)), expected.Length);
    }

    [Fact]
    public void PerTokenPercentileCountIsNMinusTheCeilingOfTauTimesNMinusOne()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(12);
        foreach (double tau in new[] { 0.25, 0.5, 0.75, 0.875 })   // τ·(N−1) exact in binary
            for (int n = 1; n <= 12; n++)
            {
                var router = new PercentileRouter(4, n, tau, PercentileMode.PerToken, temperature: 1, noiseStd: 0);
                var r = router.Select(torch.randn(32, n).mul(2));     // distinct gate values
                long expected = n - (long)Math.Ceiling(tau * (n - 1));
                Assert.All(ToLongs(r.ExpertsPerUnit), c => Assert.Equal(expected, c));
            }
    }

    [Fact]
    public void BatchPercentileUsesOneThresholdSoCountsVary()
    {
        using var scope = NewDisposeScope();
        var logits = LogitsOf(new float[,]
        {
            { 0.1f, 0.2f, 0.3f, 0.4f },
            { 0.7f, 0.1f, 0.1f, 0.1f },
        });
        // all 8 gates sorted: .1 .1 .1 .1 .2 .3 .4 .7; τ = 0.5 → position 3.5 → θ = 0.15
        var r = new PercentileRouter(4, 4, tau: 0.5, PercentileMode.Batch, temperature: 1, noiseStd: 0).Select(logits);
        Assert.Equal(new long[] { 3, 1 }, ToLongs(r.ExpertsPerUnit));
        Assert.Equal(new long[] { 3, 2, 1, 0, 0, 0 }, ToLongs(r.ExpertIndices));
        Close(torch.tensor(new float[] { 0.4f / 0.9f, 0.3f / 0.9f, 0.2f / 0.9f, 1f, 0f, 0f }).reshape(2, 3), r.Weights, what: "batch percentile weights");
    }

    [Fact]
    public void PercentileTemperatureSharpensTheGate()
    {
        using var scope = NewDisposeScope();
        var logits = torch.tensor(new float[] { 0f, 1f, 2f }).reshape(1, 3);
        var r = new PercentileRouter(3, 3, tau: 0.5, temperature: 0.5, noiseStd: 0).Select(logits);
        Close(torch.tensor(new float[] { 0f, 2f, 4f }).reshape(1, 3).softmax(-1), r.Probabilities, what: "softmax(z/T)");
    }

    [Fact]
    public void QuantileMatchesTorchQuantile()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(3);
        var x = torch.rand(5, 7);
        foreach (double tau in new[] { 0.0, 0.3, 0.5, 0.75, 0.99 })
            Close(torch.quantile(x, torch.tensor(tau, dtype: float32), dim: 1), PercentileRouter.Quantile(x, tau), what: $"quantile {tau}");
    }

    [Fact]
    public void TrainingNoiseOnlyInTrainingMode()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(1);
        var router = new TopKRouter(4, 4, k: 1, noiseStd: 1.0);
        var logits = torch.randn(64, 4);
        router.train();
        var noisy = router.Select(logits);
        router.eval();
        var clean = router.Select(logits);
        Close(logits, clean.Logits, what: "eval logits unchanged");
        Assert.False(torch.allclose(logits, noisy.Logits), "training noise should change the logits");
    }

    [Fact]
    public void SegmentRouterSharesExpertsWithinASegmentAndCropsPadding()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(5);
        int d = 3, omega = 2;
        var router = new SegmentRouter(d, omega, new TopKRouter(omega * d, 4, k: 1, renormalize: false));
        var x = torch.randn(2, 5, d);                                   // T = 5 → padded to 6, 3 segments
        var seg = router.forward(x);
        Assert.Equal(new long[] { 6, omega * d }, seg.Segments.shape);
        // the second sequence's last segment is token 4 followed by a zero pad
        Close(torch.cat(new[] { x[1, 4], torch.zeros(d) }), seg.Segments[5], what: "padded segment");
        Close(x[0, 2], seg.Segments[1].narrow(0, 0, d), what: "segment concatenation");
        var perToken = seg.PerToken();
        Assert.Equal(10, perToken.Units);
        var tokens = ToLongs(perToken.ExpertIndices);
        var segments = ToLongs(seg.Routing.ExpertIndices);
        for (int b = 0; b < 2; b++)
            for (int t = 0; t < 5; t++)
                Assert.Equal(segments[b * 3 + t / omega], tokens[b * 5 + t]);
        // raw top-1 probability keeps a router gradient; renormalised top-1 is identically 1
        Assert.True(ToArray(seg.Routing.Weights).All(w => w < 1f));
        var renormalised = new SegmentRouter(d, omega, new TopKRouter(omega * d, 4, k: 1, renormalize: true)).forward(x);
        Assert.True(ToArray(renormalised.Routing.Weights).All(w => Math.Abs(w - 1f) < 1e-6));
    }
}
