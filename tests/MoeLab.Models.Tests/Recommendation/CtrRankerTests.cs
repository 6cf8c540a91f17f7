using MoeLab.Models.Recommendation;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Models.Tests.Recommendation;

public class CtrRankerTests
{
    private static readonly long[] UserFields = { 3, 4 };
    private static readonly long[] ItemFields = { 10, 5 };

    private static CtrRankerOptions Options(CtrArchitecture a, int experts = 3) =>
        new() { UserFields = UserFields, ItemFields = ItemFields, EmbeddingDim = 4, AttentionHidden = 6, Experts = experts, Hidden = 5, Architecture = a };

    /// <summary>Batch of 3, T = 4: row 0 has 4 behaviours, row 1 has 2 (positions 2, 3 padded), row 2 none.</summary>
    private static CtrInputs Inputs(long padId = 0)
    {
        var user = tensor(new long[] { 0, 1, 2, 3, 1, 0 }).reshape(3, 2);
        var target = tensor(new long[] { 1, 2, 3, 4, 5, 0 }).reshape(3, 2);
        var ids = new long[3 * 4 * 2];
        var mask = new bool[3 * 4];
        for (int b = 0; b < 3; b++)
            for (int t = 0; t < 4; t++)
            {
                bool valid = b == 0 || (b == 1 && t < 2);
                mask[b * 4 + t] = valid;
                ids[(b * 4 + t) * 2] = valid ? (b + 2 * t + 1) % 10 : padId % 10;
                ids[(b * 4 + t) * 2 + 1] = valid ? (b + t) % 5 : padId % 5;
            }
        return new CtrInputs(user, target, tensor(ids).reshape(3, 4, 2), tensor(mask).reshape(3, 4));
    }

    private static CtrRanker Build(CtrArchitecture a, int seed = 1, int experts = 3)
    {
        var model = new CtrRanker(Options(a, experts));
        var g = new Generator((ulong)seed);
        model.Initialize(g);
        return model;
    }

    public static IEnumerable<object[]> Architectures() => Enum.GetValues<CtrArchitecture>().Select(a => new object[] { a });

    [Theory]
    [MemberData(nameof(Architectures))]
    public void ShapesAndParameterCount(CtrArchitecture a)
    {
        using var scope = NewDisposeScope();
        var model = Build(a);
        var o = model.forward(Inputs());
        Assert.Equal(new long[] { 3 }, o.Logits.shape);
        Assert.Equal(model.IsMixture, o.Gate is not null);
        if (o.Gate is not null)
        {
            Assert.Equal(new long[] { 3, 3 }, o.Gate.shape);
            TestSupport.Close(ones(3), o.Gate.sum(1), what: "gate rows sum to 1");
        }
        Assert.Equal(a != CtrArchitecture.DnnMeanPooling, o.Attention is not null);
        Assert.Equal(CtrRanker.Count(Options(a)), model.ParameterCount);
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void PaddedBehavioursDoNotChangeTheOutput(CtrArchitecture a)
    {
        using var scope = NewDisposeScope();
        var model = Build(a);
        model.eval();
        var first = model.forward(Inputs(padId: 0));
        var second = model.forward(Inputs(padId: 7));
        TestSupport.Close(first.Logits, second.Logits, atol: 1e-6, what: "logits");
        if (first.Attention is not null)
        {
            var att = TestSupport.ToArray(first.Attention);
            Assert.Equal(0f, att[1 * 4 + 2]);
            Assert.Equal(0f, att[1 * 4 + 3]);
            Assert.All(att.Skip(8), v => Assert.Equal(0f, v)); // row without history: all zero, no NaN
            Assert.Equal(1.0, att.Take(4).Sum(), 5);
        }
    }

    [Fact]
    public void AttentionWeightedGateOnHandMadeValues()
    {
        using var scope = NewDisposeScope();
        // Row 0: a = (0.25, 0.75), g_1 = (1, 0), g_2 = (0.2, 0.8) → w = (0.25 + 0.15, 0.6) = (0.4, 0.6).
        // Row 1: no behaviours (a = 0) → uniform (0.5, 0.5).
        var a = tensor(new float[] { 0.25f, 0.75f, 0, 0 }).reshape(2, 2);
        var g = tensor(new float[] { 1, 0, 0.2f, 0.8f, 0.9f, 0.1f, 0.3f, 0.7f }).reshape(2, 2, 2);
        TestSupport.Close(tensor(new float[] { 0.4f, 0.6f, 0.5f, 0.5f }).reshape(2, 2), GateUnit.AttentionWeighted(a, g));
    }

    [Fact]
    public void MaskedSoftmaxAndMeanPoolOnHandMadeValues()
    {
        using var scope = NewDisposeScope();
        var scores = tensor(new float[] { 0, MathF.Log(3), 100, 5, 5, 5 }).reshape(2, 3);
        var mask = tensor(new[] { true, true, false, false, false, false }).reshape(2, 3);
        TestSupport.Close(tensor(new float[] { 0.25f, 0.75f, 0, 0, 0, 0 }).reshape(2, 3), ActivationUnit.MaskedSoftmax(scores, mask));
        var b = tensor(new float[] { 1, 2, 3, 4, 100, 100, 7, 7, 7, 7, 7, 7 }).reshape(2, 3, 2);
        TestSupport.Close(tensor(new float[] { 2, 3, 0, 0 }).reshape(2, 2), ActivationUnit.MeanPool(b, mask));
    }

    [Fact]
    public void InfoNceOnHandCheckedCase()
    {
        using var scope = NewDisposeScope();
        // Orthonormal views, identical: logits = I/τ. Each row: −log(e^{1/τ} / (e^{1/τ} + 1)) = log(1 + e^{−1/τ}).
        var z = tensor(new float[] { 2, 0, 0, 3 }).reshape(2, 2); // rows are normalised inside
        Assert.Equal(Math.Log(1 + Math.Exp(-1)), ContrastiveLoss.InfoNce(z, z, 1.0).item<float>(), 5);
        Assert.Equal(Math.Log(1 + Math.Exp(-10)), ContrastiveLoss.InfoNce(z, z, 0.1).item<float>(), 6);
        // Swapped partners: logits = [[0, 1], [1, 0]]/τ: −log(1/(1+e)) = log(1 + e) in both directions.
        var swapped = tensor(new float[] { 0, 1, 1, 0 }).reshape(2, 2);
        Assert.Equal(Math.Log(1 + Math.E), ContrastiveLoss.InfoNce(z, swapped, 1.0).item<float>(), 5);
        Assert.Throws<ArgumentOutOfRangeException>(() => ContrastiveLoss.InfoNce(z, z, 0));
    }

    [Fact]
    public void RandomMaskingNeverRemovesEveryBehaviour()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(5);
        var mask = tensor(Enumerable.Range(0, 200 * 6).Select(i => (i / 6) % 4 != 3 && i % 6 < 1 + (i / 6) % 6).ToArray()).reshape(200, 6);
        var original = TestSupport.ToBools(mask);
        for (int rep = 0; rep < 5; rep++)
        {
            var m = BehaviourMasking.Random(mask, 0.9, g);
            var kept = TestSupport.ToBools(m);
            for (int r = 0; r < 200; r++)
            {
                bool hadAny = Enumerable.Range(0, 6).Any(t => original[r * 6 + t]);
                int count = Enumerable.Range(0, 6).Count(t => kept[r * 6 + t]);
                Assert.Equal(hadAny, count >= 1);
                for (int t = 0; t < 6; t++) Assert.True(!kept[r * 6 + t] || original[r * 6 + t], "masking only removes");
            }
        }
        Assert.Equal(original, TestSupport.ToBools(BehaviourMasking.Random(mask, 0.0, g)));
        // ρ = 0.5 drops about half of the behaviours of long rows.
        var full = ones(2000, 10, dtype: ScalarType.Bool);
        double keptShare = BehaviourMasking.Random(full, 0.5, g).to(float32).mean().item<float>();
        Assert.InRange(keptShare, 0.47, 0.53);
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void GradientsReachEveryParameterGroup(CtrArchitecture a)
    {
        using var scope = NewDisposeScope();
        var model = Build(a);
        var inputs = Inputs();
        var o = model.forward(inputs);
        var loss = nn.functional.binary_cross_entropy_with_logits(o.Logits, tensor(new float[] { 1, 0, 1 }));
        if (model.IsMixture)
        {
            var (x, e, b) = model.Embed(inputs);
            var g = new Generator(3);
            var v1 = model.GateVector(x, e, b, BehaviourMasking.Random(inputs.HistoryMask, 0.5, g))!;
            var v2 = model.GateVector(x, e, b, inputs.HistoryMask)!;
            loss = loss + 0.1 * ContrastiveLoss.InfoNce(v1, v2, 0.5);
        }
        loss.backward();
        foreach (var (name, p) in model.named_parameters())
        {
            Assert.NotNull(p.grad);
            var gradNorm = p.grad!.norm().item<float>();
            Assert.True(float.IsFinite(gradNorm), name);
            Assert.True(gradNorm > 0, $"{a}: no gradient reaches {name}");
        }
    }

    [Fact]
    public void MatchHiddenBringsDinWithinFivePercentOfAwMoe()
    {
        var aw = Options(CtrArchitecture.AttentionWeightedMoe, experts: 4) with { Hidden = 32 };
        long target = CtrRanker.Count(aw);
        foreach (var a in new[] { CtrArchitecture.DnnMeanPooling, CtrArchitecture.Din })
        {
            var o = aw with { Architecture = a };
            int h = CtrRanker.MatchHidden(o, target);
            double ratio = CtrRanker.Count(o with { Hidden = h }) / (double)target;
            Assert.InRange(ratio, 0.95, 1.05);
        }
    }

    [Fact]
    public void SparseEmbeddingSetConcatenatesFieldsAndChecksWidth()
    {
        using var scope = NewDisposeScope();
        var set = new SparseEmbeddingSet(new long[] { 3, 4, 5 }, 2);
        Assert.Equal(new long[] { 7, 6 }, set.forward(zeros(7, 3, dtype: int64)).shape);
        Assert.Equal(new long[] { 2, 5, 6 }, set.forward(zeros(2, 5, 3, dtype: int64)).shape);
        Assert.Throws<ArgumentException>(() => set.forward(zeros(2, 2, dtype: int64)));
    }
}
