using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MoeLab.Models.Routing;

/// <summary>Base of all routers: a linear gate W_r ∈ R^{N×d} without bias (every paper here uses
/// none) computing fp32 logits z = W_r x, followed by a selection rule. Training noise, when a router
/// has it, is only added while the module is in training mode.</summary>
public abstract class Router : nn.Module<Tensor, RoutingResult>
{
    private readonly Linear gate; // W_r: [N, d_in]

    public int InputDim { get; }
    public int Experts { get; }

    protected Router(string name, int inputDim, int experts, Device? device) : base(name)
    {
        if (inputDim <= 0) throw new ArgumentException($"{name}: input dimension must be positive, got {inputDim}.");
        if (experts <= 0) throw new ArgumentException($"{name}: experts must be positive, got {experts}.");
        InputDim = inputDim;
        Experts = experts;
        gate = nn.Linear(inputDim, experts, hasBias: false, device: device);
        RegisterComponents();
    }

    /// <summary>The gate weight W_r [N, d_in].</summary>
    public Tensor GateWeight => gate.weight!;

    /// <summary>x [units, d_in] → routing of each unit.</summary>
    public override RoutingResult forward(Tensor x)
    {
        if (x.dim() != 2 || x.shape[1] != InputDim)
            throw new ArgumentException($"{GetName()}: expected input [units, {InputDim}], got [{string.Join(", ", x.shape)}].");
        var logits = gate.forward(x).to(float32); // [units, N]
        return Select(logits);
    }

    /// <summary>Applies the selection rule to raw logits [units, N].</summary>
    public abstract RoutingResult Select(Tensor logits);

    /// <summary>z + ε, ε ~ N(0, std²), in training mode only.</summary>
    protected Tensor AddTrainingNoise(Tensor logits, double std)
        => training && std > 0 ? logits.add(torch.randn_like(logits).mul(std)) : logits;

    /// <summary>Takes the first <paramref name="slots"/> entries of descending-sorted probabilities and their
    /// expert ids, valid where the slot index is below <paramref name="count"/> [units].</summary>
    protected static (Tensor Indices, Tensor Values, Tensor Valid) TakeSortedPrefix(Tensor sortedValues, Tensor order, Tensor count, long slots)
    {
        var values = sortedValues.narrow(1, 0, slots);                                          // [units, kmax]
        var indices = order.narrow(1, 0, slots);                                                // [units, kmax]
        var valid = torch.arange(slots, device: count.device).unsqueeze(0).lt(count.unsqueeze(1)); // [units, kmax]
        return (indices.masked_fill(valid.logical_not(), 0), values, valid);
    }
}
