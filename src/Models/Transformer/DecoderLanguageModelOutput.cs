using MoeLab.Models.Accounting;
using MoeLab.Models.Layers;
using MoeLab.Models.Losses;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Models.Transformer;

/// <summary>What a <see cref="DecoderLanguageModel"/> returns: next-token logits and, per block, what
/// its feed-forward slot reported (unweighted losses, routing, statistics), so a trainer can weight the
/// losses and log each layer.</summary>
/// <param name="Logits">[batch, tokens, V].</param>
/// <param name="Layers">one entry per block, bottom to top.</param>
public sealed record DecoderLanguageModelOutput(Tensor Logits, IReadOnlyList<FeedForwardSlotOutput> Layers)
{
    /// <summary>Σ over blocks of Σ_j α_j·L_j (a scalar; 0 when no block routes).</summary>
    public Tensor AuxiliaryLoss(AuxiliaryLossWeights weights)
    {
        Tensor total = torch.zeros(Array.Empty<long>(), device: Logits.device);
        foreach (var layer in Layers.Where(l => l.IsRouted))
            total = total.add(layer.Losses.Weighted(weights));
        return total;
    }

    /// <summary>Each unweighted loss summed over the routed blocks; null when no block routes.</summary>
    public AuxiliaryLossSet? Losses
    {
        get
        {
            var routed = Layers.Where(l => l.IsRouted).Select(l => l.Losses).ToList();
            return routed.Count == 0 ? null : AuxiliaryLossSet.Sum(routed);
        }
    }

    /// <summary>(block, pass, statistics) of every routed pass, bottom to top (Chain-of-Experts has
    /// one pass per iteration).</summary>
    public IEnumerable<(int Layer, int Pass, RoutingStatistics Statistics)> Statistics =>
        Layers.SelectMany((l, i) => l.Statistics.Select((s, p) => (i, p, s)));
}
