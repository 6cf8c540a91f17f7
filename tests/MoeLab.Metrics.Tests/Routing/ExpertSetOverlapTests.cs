using MoeLab.Metrics.Routing;

namespace MoeLab.Metrics.Tests.Routing;

public class ExpertSetOverlapTests
{
    [Fact]
    public void HandComputedTokens()
    {
        // token 0: {0,1} vs {1,2}: ∩ 1, ∪ 3 → 1/3; token 1: {3,4} vs {4,3}: 1; token 2: {0,5} vs {1,2}: 0
        var o = ExpertSetOverlap.Compare(new long[] { 0, 1, 3, 4, 0, 5 }, 2, new long[] { 1, 2, 4, 3, 1, 2 }, 2, 6);
        Assert.Equal(3, o.Tokens);
        Assert.Equal((1.0 / 3 + 1 + 0) / 3, o.MeanJaccard, 12);
        Assert.Equal((1 + 2 + 0) / 3.0, o.MeanIntersection, 12);
        Assert.Equal(2.0 * 2 / 6, o.ChanceIntersection, 12);
    }

    [Fact]
    public void DifferentSetSizes()
    {
        // {0} vs {0,1,2}: 1/3; {1} vs {2,3,0}: 0
        var o = ExpertSetOverlap.Compare(new long[] { 0, 1 }, 1, new long[] { 0, 1, 2, 2, 3, 0 }, 3, 4);
        Assert.Equal(1.0 / 6, o.MeanJaccard, 12);
        // chance: |A∩B| ~ Bernoulli(3/4) for a = 1: J = 1/3 with prob 3/4
        Assert.Equal(0.75 / 3, o.ChanceJaccard, 12);
    }

    [Fact]
    public void ChanceJaccardMatchesHandCountAndSimulation()
    {
        // n = 4, a = b = 2: P(j=0) = 1/6, P(1) = 4/6, P(2) = 1/6 → E[J] = 4/6·1/3 + 1/6·1 = 7/18
        Assert.Equal(7.0 / 18, ExpertSetOverlap.ChanceJaccard(4, 2, 2), 12);
        Assert.Equal(1.0, ExpertSetOverlap.ChanceJaccard(5, 5, 5), 12);
        // Monte Carlo with a fixed seed: random 4-subsets of 32
        var rng = new Random(5);
        int tokens = 40_000, n = 32, k = 4;
        var a = new long[tokens * k];
        var b = new long[tokens * k];
        for (int t = 0; t < tokens; t++)
        {
            var pa = Enumerable.Range(0, n).OrderBy(_ => rng.Next()).Take(k).ToArray();
            var pb = Enumerable.Range(0, n).OrderBy(_ => rng.Next()).Take(k).ToArray();
            for (int j = 0; j < k; j++) { a[t * k + j] = pa[j]; b[t * k + j] = pb[j]; }
        }
        var o = ExpertSetOverlap.Compare(a, k, b, k, n);
        Assert.InRange(o.MeanJaccard / o.ChanceJaccard, 0.97, 1.03);
        Assert.InRange(o.MeanIntersection, 0.5 * 0.97, 0.5 * 1.03); // k²/N = 0.5
    }

    [Fact]
    public void BadInputIsRefused()
    {
        Assert.Throws<ArgumentException>(() => ExpertSetOverlap.Compare(new long[] { 0, 0 }, 2, new long[] { 0, 1 }, 2, 4));
        Assert.Throws<ArgumentException>(() => ExpertSetOverlap.Compare(new long[] { 0, 9 }, 2, new long[] { 0, 1 }, 2, 4));
        Assert.Throws<ArgumentException>(() => ExpertSetOverlap.Compare(new long[] { 0, 1 }, 2, new long[] { 0, 1, 2, 3 }, 2, 4));
        Assert.Throws<ArgumentException>(() => ExpertSetOverlap.ChanceJaccard(4, 5, 1));
    }
}
