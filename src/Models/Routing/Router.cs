using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MoeLab.Models.Routing;

/// <summary>Base of all routers: a linear gate W_r ∈ R^{N×d} without bias (every paper here uses
/// none) computing fp32 logits z = W_r x, followed by a selection rule. Training noise, when a router
/// has it, is only added while the module is in training mode.
/// <para>Units are rows [sequences·tokens, d], sequence by sequence; <see cref="Route"/> is told the
/// sequence length so a rule that compares units can keep to units at the same position
/// (<see cref="PercentileMode.BatchPerPosition"/>). <see cref="forward"/> treats its input as one
/// sequence.</para></summary>
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

    /// <summary>x [units, d_in] (one sequence) → routing of each unit.</summary>
    public override RoutingResult forward(Tensor x) => Route(x, x.dim() == 2 ? Math.Max(1, x.shape[0]) : 1);

    /// <summary>x [sequences·tokens, d_in], sequence by sequence, → routing of each unit.</summary>
    /// <param name="tokensPerSequence">T, the number of units per sequence (must divide the unit count).</param>
    public RoutingResult Route(Tensor x, long tokensPerSequence)
    {
        if (x.dim() != 2 || x.shape[1] != InputDim)
            throw new ArgumentException($"{GetName()}: expected input [units, {InputDim}], got [{string.Join(", ", x.shape)}].");
        if (x.shape[0] > 0 && (tokensPerSequence <= 0 || x.shape[0] % tokensPerSequence != 0))
            throw new ArgumentException($"{GetName()}: {x.shape[0]} units do not split into sequences of {tokensPerSequence}.");
        var logits = gate.forward(x).to(float32); // [units, N]
        return Select(logits, tokensPerSequence);
    }

    /// <summary>True when the choice for a unit depends on no unit at a later position of any sequence
    /// (the rule may compare units at the same or earlier positions). Top-k and top-p decide each unit
    /// alone and are causal; a batch-wide percentile threshold is not.</summary>
    public virtual bool IsCausal => true;

    /// <summary>Applies the selection rule to raw logits [units, N].</summary>
    public abstract RoutingResult Select(Tensor logits);

    /// <summary>Applies the selection rule to raw logits [sequences·tokens, N] of sequences of
    /// <paramref name="tokensPerSequence"/> units (rules that act on each unit alone ignore it).</summary>
    public virtual RoutingResult Select(Tensor logits, long tokensPerSequence) => Select(logits);

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
