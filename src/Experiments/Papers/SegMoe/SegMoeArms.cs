using MoeLab.Models.Layers;
using MoeLab.Models.Networks;
using MoeLab.Models.Routing;

namespace MoeLab.Experiments.Papers.SegMoe;

/// <summary>The arms of the Seg-MoE reproduction: one feed-forward slot per layer of the same backbone.
/// <list type="bullet">
/// <item><c>dense</c>: a dense GELU FFN of width 2·d_ff (the active parameters of a top-1 token MoE
/// layer with its shared expert);</item>
/// <item><c>token-moe</c>: ω = 1 in every layer: token-wise top-k routing plus the gated token shared
/// expert (the official MoEFeedForward);</item>
/// <item><c>seg-moe</c>: Seg-MoE with the per-layer ω (routing on the ω·d segment, position-wise routed
/// experts, gated shared expert on the concatenated segment);</item>
/// <item><c>token-route-seg-shared</c>: the control that separates routing granularity from the bigger
/// shared expert: Seg-MoE's segment shared expert, but token-wise routing;</item>
/// <item><c>seg-moe-no-shared</c> / <c>token-moe-no-shared</c>: both routings without any shared
/// expert (routing granularity alone, with equal parameters up to the router).</item>
/// </list></summary>
public static class SegMoeArms
{
    public static readonly string[] AllNames = ["dense", "token-moe", "seg-moe", "token-route-seg-shared", "seg-moe-no-shared", "token-moe-no-shared"];

    /// <summary>The routed experts of every MoE arm.</summary>
    public static MoeLayerOptions Moe(SegMoeModelConfig m) => new()
    {
        DModel = m.DModel,
        DHidden = m.DHidden,
        Experts = m.Experts,
        Dropout = m.Dropout,
        Router = new RouterOptions { K = m.TopK, Renormalize = m.Renormalize },
    };

    /// <summary>The slot of each layer for <paramref name="arm"/>.</summary>
    public static IReadOnlyList<FeedForwardSlotOptions> Slots(string arm, SegMoeModelConfig m)
    {
        var moe = Moe(m);
        SegmentMoeOptions Seg(int omega, int? routerOmega, bool shared) =>
            new() { Moe = moe, Omega = omega, RouterOmega = routerOmega, SegmentSharedExpert = shared };
        return m.Omegas.Select<int, FeedForwardSlotOptions>(omega => arm switch
        {
            "dense" => new DenseFeedForwardOptions { DModel = m.DModel, DHidden = m.DenseHidden > 0 ? m.DenseHidden : 2 * m.DHidden, Dropout = m.Dropout },
            "token-moe" => Seg(1, null, true),
            "seg-moe" => Seg(omega, null, true),
            "token-route-seg-shared" => Seg(omega, 1, true),
            "seg-moe-no-shared" => Seg(omega, null, false),
            "token-moe-no-shared" => Seg(1, null, false),
            _ => throw new ArgumentException($"Unknown Seg-MoE arm '{arm}'; expected one of {string.Join(", ", AllNames)}."),
        }).ToList();
    }

    /// <summary>The backbone for <paramref name="arm"/>.</summary>
    public static PatchForecasterOptions Network(string arm, SegMoeModelConfig m) => new()
    {
        LookBack = m.LookBack,
        PatchLength = m.PatchLength,
        DModel = m.DModel,
        Heads = m.Heads,
        KeyValueHeads = m.KeyValueHeads,
        Dropout = m.Dropout,
        DropPath = m.DropPath,
        FeedForwards = Slots(arm, m),
    };

    /// <summary>The official small config (4 layers, d 128, d_ff 256, 4/2 heads, N 4, top-1, ω [3,5,5,5],
    /// L 512, p 8): the Seg-MoE arm at the defaults of <see cref="SegMoeModelConfig"/>.</summary>
    public static PatchForecasterOptions OfficialSmall() => Network("seg-moe", new SegMoeModelConfig());

    /// <summary>Parameters of the routed experts that a routing unit does NOT use: Σ over MoE layers of
    /// (N − k) · (one expert's parameters). Active = total − this.</summary>
    public static long InactiveParameters(PatchForecasterOptions o) =>
        o.FeedForwards.OfType<SegmentMoeOptions>().Sum(s => (long)(s.Moe.Experts - s.Moe.Router.K) * s.Moe.ExpertShape.Parameters);
}
