using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Models.Routing;

/// <summary>Segments of a sequence as seen by <see cref="SegmentRouter"/>.</summary>
/// <param name="Segments">[batch·S, ω·d] concatenated segments (zero right-padding included).</param>
/// <param name="Routing">routing of each segment (units = segments).</param>
/// <param name="Batch">B.</param>
/// <param name="Tokens">T, the unpadded sequence length.</param>
/// <param name="PaddedTokens">T rounded up to a multiple of ω.</param>
/// <param name="Omega">segment length ω.</param>
public sealed record SegmentRouting(Tensor Segments, RoutingResult Routing, long Batch, long Tokens, long PaddedTokens, int Omega)
{
    /// <summary>Token-level routing [batch·T, ...]: each token inherits its segment's experts and
    /// weights; tokens of the right padding are cropped.</summary>
    public RoutingResult PerToken() => Routing.ExpandUnits(Omega, Batch, PaddedTokens, Tokens);
}

/// <summary>Segment-wise routing of Seg-MoE (Ortigossa &amp; Segal 2026, arXiv 2601.21641):
/// right-pad the T tokens with zeros to a multiple of ω; segment j concatenates its ω tokens,
/// S_j ∈ R^{ω·d}; π_j = softmax(W_r S_j) with W_r ∈ R^{N×ωd}, no bias; every token of segment j
/// uses the segment's experts K_j and weights g_j. The selection rule is any <see cref="Router"/>
/// built on input width ω·d (Seg-MoE: <see cref="TopKRouter"/>; with top-1 choose
/// <c>renormalize: false</c> to keep the raw probability — renormalised top-1 gives g ≡ 1 and no
/// task gradient to the router, the paper-time code's behaviour — and report which was used).
/// ω = 1 is token-wise routing.</summary>
public sealed class SegmentRouter : nn.Module<Tensor, SegmentRouting>
{
    private readonly Router inner;

    public int Omega { get; }
    public int DModel { get; }
    public int Experts => inner.Experts;
    public Router Inner => inner;

    public SegmentRouter(int dModel, int omega, Router inner) : base(nameof(SegmentRouter))
    {
        if (omega < 1) throw new ArgumentException($"SegmentRouter: ω = {omega} must be ≥ 1.");
        if (inner.InputDim != omega * dModel)
            throw new ArgumentException($"SegmentRouter: the inner router takes {inner.InputDim} inputs, expected ω·d = {omega}·{dModel} = {omega * dModel}.");
        Omega = omega;
        DModel = dModel;
        this.inner = inner;
        RegisterComponents();
    }

    /// <summary>x [B, T, d] → segment routing.</summary>
    public override SegmentRouting forward(Tensor x)
    {
        if (x.dim() != 3 || x.shape[2] != DModel)
            throw new ArgumentException($"SegmentRouter: expected input [batch, tokens, {DModel}], got [{string.Join(", ", x.shape)}].");
        long b = x.shape[0], t = x.shape[1];
        var segments = Concatenate(x, Omega, out long padded);  // [B·S, ω·d]
        var routing = inner.Route(segments, padded / Omega);   // sequences of S segments
        return new SegmentRouting(segments, routing, b, t, padded, Omega);
    }

    /// <summary>Zero right-pads x [B, T, d] to T_pad = ω·⌈T/ω⌉ and concatenates each segment's tokens:
    /// → [B·T_pad/ω, ω·d].</summary>
    public static Tensor Concatenate(Tensor x, int omega, out long paddedTokens)
    {
        long b = x.shape[0], t = x.shape[1], d = x.shape[2];
        paddedTokens = (t + omega - 1) / omega * omega;
        var padded = paddedTokens == t ? x : nn.functional.pad(x, new long[] { 0, 0, 0, paddedTokens - t }); // [B, T_pad, d]
        return padded.reshape(b * (paddedTokens / omega), omega * d);                                       // [B·S, ω·d]
    }
}
