using MoeLab.Metrics.Ranking;

namespace MoeLab.Metrics.Tests.Ranking;

public class RankingMetricsTests
{
    [Fact]
    public void AucCountsPairsAndTiesAsHalf()
    {
        // Positives 0.8, 0.4; negatives 0.4, 0.1. Pairs: (0.8>0.4) 1, (0.8>0.1) 1, (0.4=0.4) ½, (0.4>0.1) 1 → 3.5/4.
        double[] s = { 0.8, 0.4, 0.4, 0.1 };
        bool[] y = { true, true, false, false };
        Assert.Equal(0.875, RankingMetrics.Auc(s, y), 12);
        // All scores equal: every pair is a tie → ½.
        Assert.Equal(0.5, RankingMetrics.Auc(new double[] { 1, 1, 1 }, new[] { true, false, false }), 12);
        // Perfectly wrong order → 0.
        Assert.Equal(0.0, RankingMetrics.Auc(new double[] { 0.1, 0.9 }, new[] { true, false }), 12);
    }

    [Fact]
    public void AucOfOneClassIsNaNAndSubsetIsRespected()
    {
        double[] s = { 0.8, 0.4, 0.4, 0.1 };
        bool[] y = { true, true, false, false };
        Assert.True(double.IsNaN(RankingMetrics.Auc(s, new[] { true, true, true, true })));
        // Only items 1 and 2 (a tie) → ½; items 0 and 3 → 1.
        Assert.Equal(0.5, RankingMetrics.Auc(s, y, new[] { false, true, true, false }), 12);
        Assert.Equal(1.0, RankingMetrics.Auc(s, y, new[] { true, false, false, true }), 12);
    }

    [Fact]
    public void GroupAucWeightsByImpressionsAndSkipsSingleClassUsers()
    {
        // user 1: 3 impressions, scores (0.9+, 0.5−, 0.7−): pairs 2/2 → 1.
        // user 2: 2 impressions, (0.2+, 0.6−) → 0.
        // user 3: 4 impressions, all negative → skipped (no pair), though it has the most impressions.
        double[] s = { 0.9, 0.5, 0.7, 0.2, 0.6, 0.1, 0.2, 0.3, 0.4 };
        bool[] y = { true, false, false, true, false, false, false, false, false };
        long[] u = { 1, 1, 1, 2, 2, 3, 3, 3, 3 };
        Assert.Equal((3 * 1.0 + 2 * 0.0) / 5, RankingMetrics.GroupAuc(s, y, u), 12);
        // Subset: only user 2 → 0.
        var only2 = u.Select(x => x == 2).ToArray();
        Assert.Equal(0.0, RankingMetrics.GroupAuc(s, y, u, only2), 12);
        // Only single-class users → NaN.
        Assert.True(double.IsNaN(RankingMetrics.GroupAuc(s, y, u, u.Select(x => x == 3).ToArray())));
    }

    [Fact]
    public void NdcgAtKPerUserList()
    {
        // user 7: ranked by score: 0.9 (−), 0.8 (+), 0.1 (+). DCG@3 = 1/log2(3) + 1/log2(4) = 0.63093 + 0.5;
        // IDCG@3 = 1 + 1/log2(3). user 8: single positive at the top → 1. user 9: no positive → skipped.
        double[] s = { 0.9, 0.8, 0.1, 0.5, 0.3, 0.2, 0.4 };
        bool[] y = { false, true, true, true, false, false, false };
        long[] u = { 7, 7, 7, 8, 8, 9, 9 };
        double user7 = (1 / Math.Log2(3) + 0.5) / (1 + 1 / Math.Log2(3));
        Assert.Equal((user7 + 1) / 2, RankingMetrics.Ndcg(s, y, u, 3), 12);
        // k = 1: user 7 has a negative on top → 0; user 8 → 1.
        Assert.Equal(0.5, RankingMetrics.Ndcg(s, y, u, 1), 12);
    }

    [Fact]
    public void NdcgOrdersTiesPessimistically()
    {
        // One positive tied with two negatives: ranked last → DCG = 1/log2(4) = 0.5, IDCG = 1.
        Assert.Equal(0.5, RankingMetrics.Ndcg(new double[] { 1, 1, 1 }, new[] { true, false, false }, new long[] { 0, 0, 0 }, 3), 12);
    }

    [Fact]
    public void MismatchedLengthsAndNaNScoresAreRefused()
    {
        Assert.Throws<ArgumentException>(() => RankingMetrics.Auc(new double[] { 1, 2 }, new[] { true }));
        Assert.Throws<ArgumentException>(() => RankingMetrics.GroupAuc(new double[] { 1, 2 }, new[] { true, false }, new long[] { 1 }));
        Assert.Throws<ArgumentException>(() => RankingMetrics.Auc(new[] { double.NaN, 1 }, new[] { true, false }));
        Assert.Throws<ArgumentOutOfRangeException>(() => RankingMetrics.Ndcg(new double[] { 1 }, new[] { true }, new long[] { 0 }, 0));
    }

    [Fact]
    public void NmiOfHandMadeLabellings()
    {
        // Same partition with renamed labels → 1.
        Assert.Equal(1.0, ClusterAgreement.NormalizedMutualInformation(new[] { 0, 0, 1, 1 }, new[] { 5, 5, 3, 3 }), 12);
        // Independent: a = (0,0,1,1), b = (0,1,0,1) → I = 0.
        Assert.Equal(0.0, ClusterAgreement.NormalizedMutualInformation(new[] { 0, 0, 1, 1 }, new[] { 0, 1, 0, 1 }), 12);
        // a = (0,0,1,1), b = (0,0,0,1): H(a) = ln 2, H(b) = −(¾ ln ¾ + ¼ ln ¼),
        // I = ½ ln(½/(½·¾))·… computed cell by cell: (0,0): ½ ln(½ / (½·¾)) ; (1,0): ¼ ln(¼/(½·¾)) ; (1,1): ¼ ln(¼/(½·¼)).
        double ha = Math.Log(2), hb = -(0.75 * Math.Log(0.75) + 0.25 * Math.Log(0.25));
        double i = 0.5 * Math.Log(0.5 / (0.5 * 0.75)) + 0.25 * Math.Log(0.25 / (0.5 * 0.75)) + 0.25 * Math.Log(0.25 / (0.5 * 0.25));
        Assert.Equal(i / ((ha + hb) / 2), ClusterAgreement.NormalizedMutualInformation(new[] { 0, 0, 1, 1 }, new[] { 0, 0, 0, 1 }), 12);
        // One constant labelling → 0; both constant → 1.
        Assert.Equal(0.0, ClusterAgreement.NormalizedMutualInformation(new[] { 0, 0, 0 }, new[] { 0, 1, 2 }), 12);
        Assert.Equal(1.0, ClusterAgreement.NormalizedMutualInformation(new[] { 4, 4 }, new[] { 1, 1 }), 12);
    }

    [Fact]
    public void CosineOfHandMadeVectors()
    {
        Assert.Equal(1.0, VectorSimilarity.Cosine(new double[] { 1, 2 }, new double[] { 2, 4 }), 12);
        Assert.Equal(0.0, VectorSimilarity.Cosine(new double[] { 1, 0 }, new double[] { 0, 3 }), 12);
        Assert.Equal(1 / Math.Sqrt(2), VectorSimilarity.Cosine(new double[] { 1, 1 }, new double[] { 0, 5 }), 12);
        Assert.True(double.IsNaN(VectorSimilarity.Cosine(new double[] { 0, 0 }, new double[] { 1, 1 })));
        var rows = VectorSimilarity.RowCosines(new double[] { 1, 0, 1, 1 }, new double[] { 1, 0, -1, -1 }, 2);
        Assert.Equal(new[] { 1.0, -1.0 }, rows.Select(r => Math.Round(r, 12)));
    }
}
