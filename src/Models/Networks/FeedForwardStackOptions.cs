using MoeLab.Models.Layers;
using MoeLab.Models.Losses;

namespace MoeLab.Models.Networks;

/// <summary>Configuration of a <see cref="FeedForwardStack"/>: the residual width, what fills each
/// layer's feed-forward slot, and the weights that turn each routed layer's unweighted auxiliary
/// losses into the one scalar the stack returns.</summary>
public sealed record FeedForwardStackOptions
{
    /// <summary>Residual width d (every slot's <see cref="FeedForwardSlotOptions.ModelWidth"/> must equal it).</summary>
    public int Width { get; init; } = 64;

    /// <summary>One slot per layer, bottom to top (dense, MoE, Chain-of-Experts or Seg-MoE).</summary>
    public IReadOnlyList<FeedForwardSlotOptions> Layers { get; init; } = Array.Empty<FeedForwardSlotOptions>();

    /// <summary>Coefficients of the auxiliary losses (all 0 by default: no auxiliary loss).</summary>
    public AuxiliaryLossWeights LossWeights { get; init; } = new();

    /// <summary>Every slot configured for a causal sequence model (<see cref="FeedForwardSlotOptions.ForCausalModel"/>).</summary>
    public FeedForwardStackOptions ForCausalModel() => this with { Layers = Layers.Select(l => l.ForCausalModel()).ToArray() };

    public void Validate()
    {
        if (Width <= 0) throw new ArgumentException($"FeedForwardStackOptions.Width = {Width}: expected > 0.");
        for (int l = 0; l < Layers.Count; l++)
        {
            Layers[l].Validate();
            if (Layers[l].ModelWidth != Width)
                throw new ArgumentException($"FeedForwardStackOptions.Layers[{l}] has width {Layers[l].ModelWidth}, the stack {Width}.");
        }
    }
}
