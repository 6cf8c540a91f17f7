using MoeLab.Models.Accounting;
using MoeLab.Models.Layers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MoeLab.Models.Networks;

/// <summary>L pre-norm residual feed-forward blocks h ← h + F_l(LayerNorm(h)), where F_l is whatever
/// <see cref="FeedForwardStackOptions.Layers"/>[l] describes (a dense FFN, an MoE layer, …; a
/// Chain-of-Experts slot without the outer residual replaces h by its output). No attention: this is
/// the body of the MLP networks (<see cref="MlpClassifier"/>, <see cref="MlpLanguageModel"/>).
/// Parameters are created layer by layer, norm first, then the slot.</summary>
public sealed class FeedForwardStack : nn.Module<Tensor, NetworkOutput>
{
    private readonly ModuleList<LayerNorm> norms = new();
    private readonly ModuleList<nn.Module> blocks = new();
    private readonly List<IFeedForwardSlot> slots = new();

    public FeedForwardStackOptions Options { get; }
    public int Width => Options.Width;

    /// <summary>The modules in the feed-forward slots, bottom to top.</summary>
    public IReadOnlyList<IFeedForwardSlot> Slots => slots;

    public FeedForwardStack(FeedForwardStackOptions options, Device? device = null) : base("ffn_stack")
    {
        options.Validate();
        Options = options;
        foreach (var layer in options.Layers)
        {
            norms.Add(nn.LayerNorm(options.Width, device: device));
            var slot = layer.CreateSlot(device);
            slots.Add(slot);
            blocks.Add(slot.Module);
        }
        RegisterComponents();
    }

    /// <summary>h [..., d] → h' [..., d] with the summed weighted auxiliary loss and the statistics of
    /// every routed pass.</summary>
    public override NetworkOutput forward(Tensor h)
    {
        var stats = new List<RoutingStatistics>();
        Tensor aux = torch.zeros(Array.Empty<long>(), device: h.device);
        for (int l = 0; l < slots.Count; l++)
        {
            var u = norms[l].forward(h);                                     // [..., d]
            var o = slots[l].ForwardSlot(u);
            h = slots[l].Residual == FeedForwardResidual.Add ? h.add(o.Output) : o.Output; // [..., d]
            if (!o.IsRouted) continue;
            aux = aux.add(o.Losses.Weighted(Options.LossWeights));
            stats.AddRange(o.Statistics);
        }
        return new NetworkOutput(h, aux, stats);
    }
}
