using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MoeLab.Models.Transformer;

/// <summary>Root-mean-square layer norm (Zhang &amp; Sennrich 2019; LLaMA, DeepSeek, Seg-MoE):
/// y = x / √(mean_i x_i² + ε) ⊙ g over the last axis, with a learned gain g (initialised to 1)
/// and no bias, no mean subtraction. TorchSharp 0.107 has no RMSNorm module.</summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight; // g: [d]

    public int Width { get; }
    public double Epsilon { get; }

    /// <param name="width">d, the size of the normalised (last) axis.</param>
    /// <param name="epsilon">ε added to the mean square (1e-6 as LLaMA).</param>
    public RmsNorm(string name, int width, double epsilon = 1e-6, Device? device = null) : base(name)
    {
        if (width <= 0) throw new ArgumentException($"RmsNorm: width must be positive, got {width}.");
        if (!(epsilon > 0)) throw new ArgumentException($"RmsNorm: epsilon must be > 0, got {epsilon}.");
        Width = width;
        Epsilon = epsilon;
        weight = new Parameter(torch.ones(width, dtype: float32, device: device));
        RegisterComponents();
    }

    /// <summary>The gain g [d].</summary>
    public Tensor Weight => weight;

    /// <summary>x [..., d] → [..., d].</summary>
    public override Tensor forward(Tensor x)
    {
        if (x.shape[^1] != Width)
            throw new ArgumentException($"RmsNorm: expected input [..., {Width}], got [{string.Join(", ", x.shape)}].");
        using var scope = NewDisposeScope();
        var inverseRms = x.square().mean(new long[] { -1 }, keepdim: true).add(Epsilon).rsqrt(); // [..., 1]
        return x.mul(inverseRms).mul(weight).MoveToOuterDisposeScope();                            // [..., d]
    }
}
