using MoeLab.Models.Internal;
using MoeLab.Models.Routing;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Models.Losses;

/// <summary>The auxiliary losses of MoE routing, each UNWEIGHTED (callers multiply by their α).
/// Counts f use the router's choices before any capacity dropping.</summary>
public static class AuxiliaryLosses
{
    /// <summary>Switch Transformer load-balancing loss (Fedus et al. 2022, eq. 4), generalised to k
    /// and dynamic routing: L = N · Σ_i f_i · P_i with f_i = c_i / A (c_i assignments to expert i,
    /// A = Σ_i c_i, i.e. T·k for top-k) and P_i = (1/T) Σ_t p_{t,i}. Equals 1 under perfect balance
    /// (uniform f and P). Gradient flows through P only. This is also Seg-MoE's loss (over segments)
    /// and the M·Σ f·P term of the continual-learning paper.</summary>
    public static Tensor LoadBalancing(RoutingResult routing)
    {
        using var scope = NewDisposeScope();
        int n = routing.Experts;
        var counts = AssignmentCounts(routing.ExpertIndices, routing.Valid, n).to(float32); // [N]
        var f = counts.div(counts.sum().clamp_min(1));                                     // [N]
        var p = routing.Probabilities.mean(new long[] { 0 });                               // [N]
        return f.mul(p).sum().mul(n).MoveToOuterDisposeScope();
    }

    /// <summary>One Switch load-balancing loss over the routing units of SEVERAL layers concatenated
    /// (Seg-MoE's official code: the gate logits of all MoE layers are stacked row-wise, then
    /// f_i and P_i are taken over all rows of all layers, L = N · Σ_i f_i · P_i). This is not the sum
    /// (nor the mean) of per-layer losses: a layer with more units (a smaller ω) weighs more, and
    /// per-layer imbalances in opposite directions cancel. All layers must have the same N.
    /// f_i = c_i / A counts assignments (for top-1 the official fraction of rows; for top-k the official
    /// code's f is k times ours).</summary>
    public static Tensor LoadBalancingAcrossLayers(IReadOnlyList<RoutingResult> layers)
    {
        if (layers.Count == 0) throw new ArgumentException("LoadBalancingAcrossLayers: no layers.");
        int n = layers[0].Experts;
        if (layers.Any(l => l.Experts != n))
            throw new ArgumentException($"LoadBalancingAcrossLayers: layers have different expert counts ({string.Join(", ", layers.Select(l => l.Experts))}).");
        if (layers.Count == 1) return LoadBalancing(layers[0]);
        using var scope = NewDisposeScope();
        long slots = layers.Max(l => l.MaxSlots);
        Tensor Pad(Tensor t, long width, Scalar fill) => t.shape[1] == width ? t
            : torch.cat(new[] { t, torch.full(new[] { t.shape[0], width - t.shape[1] }, fill, dtype: t.dtype, device: t.device) }, 1);
        var indices = torch.cat(layers.Select(l => Pad(l.ExpertIndices, slots, 0L)).ToArray(), 0);      // [Σ units, kmax]
        var valid = torch.cat(layers.Select(l => Pad(l.Valid, slots, false)).ToArray(), 0);           // [Σ units, kmax]
        var counts = AssignmentCounts(indices, valid, n).to(float32);                                   // [N]
        var f = counts.div(counts.sum().clamp_min(1));                                                  // [N]
        var p = torch.cat(layers.Select(l => l.Probabilities).ToArray(), 0).mean(new long[] { 0 });    // [N]
        return f.mul(p).sum().mul(n).MoveToOuterDisposeScope();
    }

    /// <summary>Router z-loss (ST-MoE, Zoph et al. 2022, eq. 5): L_z = (1/T) Σ_t (log Σ_i e^{z_{t,i}})².</summary>
    public static Tensor RouterZ(Tensor logits)
    {
        using var scope = NewDisposeScope();
        return logits.logsumexp(-1).square().mean().MoveToOuterDisposeScope();
    }

    /// <summary>Routing-entropy loss (the L_dynamic of top-p routing, Huang et al. 2024):
    /// L = (1/T) Σ_t (−Σ_i p_{t,i} log p_{t,i}). Minimising it sharpens the router so top-p
    /// activates fewer experts.</summary>
    public static Tensor Entropy(Tensor probabilities)
    {
        using var scope = NewDisposeScope();
        var logp = probabilities.clamp_min(1e-30).log();                 // [T, N]
        return probabilities.mul(logp).sum(-1).neg().mean().MoveToOuterDisposeScope();
    }

    /// <summary>Sequence-level balance loss (DeepSeek-V2 / Chain-of-Experts, arXiv 2506.18945):
    /// for each sequence b of S units, f_{b,i} = c_{b,i} · N / A_b (A_b = S·K for top-K) and
    /// P_{b,i} = (1/S) Σ_t s_{t,i}; L = (1/B) Σ_b Σ_i f_{b,i} P_{b,i}. The routing's units must be
    /// ordered sequence by sequence ([B·S] rows).</summary>
    public static Tensor SequenceBalance(RoutingResult routing, long sequences)
    {
        long units = routing.Units;
        if (sequences <= 0 || units % sequences != 0)
            throw new ArgumentException($"SequenceBalance: {units} routing units do not split into {sequences} sequences.");
        using var scope = NewDisposeScope();
        int n = routing.Experts;
        long s = units / sequences;
        var sequenceOf = torch.arange(units, device: routing.ExpertIndices.device).div(s, rounding_mode: RoundingMode.floor); // [B·S]
        var key = sequenceOf.unsqueeze(1).mul(n).add(routing.ExpertIndices);                  // [B·S, k] b·N + i
        var counts = key.masked_select(routing.Valid).bincount(null, sequences * n)
            .reshape(sequences, n).to(float32);                                               // [B, N]
        var f = counts.mul(n).div(counts.sum(-1, keepdim: true).clamp_min(1));                        // [B, N]
        var p = routing.Probabilities.reshape(sequences, s, n).mean(new long[] { 1 });                // [B, N]
        return f.mul(p).sum(-1).mean().MoveToOuterDisposeScope();
    }

    /// <summary>[N] int64 number of valid slots choosing each expert.</summary>
    public static Tensor AssignmentCounts(Tensor indices, Tensor mask, int experts)
    {
        using var scope = NewDisposeScope();
        var flat = indices.masked_select(mask);                           // [A]
        return flat.bincount(null, experts).MoveToOuterDisposeScope();
    }
}

/// <summary>Each auxiliary loss of one MoE layer, unweighted (scalars, in the autograd graph). A layer declares its
/// losses without computing them (<see cref="Deferred"/>): each one is computed the first time it is read, under the
/// gradient mode and dispose scope of the forward pass, so a training step pays only for the losses it weights
/// (<see cref="Weighted"/> reads only the terms with a non-zero weight) and a benchmark of the layer's output for
/// none.</summary>
public sealed record AuxiliaryLossSet
{
    private readonly Deferred<Tensor> loadBalancing, routerZ, entropy, sequenceBalance;

    /// <param name="loadBalancing">Switch N·Σ f_i P_i (<see cref="AuxiliaryLosses.LoadBalancing"/>).</param>
    /// <param name="routerZ">ST-MoE z-loss (<see cref="AuxiliaryLosses.RouterZ"/>).</param>
    /// <param name="entropy">mean routing entropy (<see cref="AuxiliaryLosses.Entropy"/>).</param>
    /// <param name="sequenceBalance">sequence-level balance (<see cref="AuxiliaryLosses.SequenceBalance"/>).</param>
    public AuxiliaryLossSet(Tensor loadBalancing, Tensor routerZ, Tensor entropy, Tensor sequenceBalance)
        : this(Deferred<Tensor>.Ready(loadBalancing), Deferred<Tensor>.Ready(routerZ), Deferred<Tensor>.Ready(entropy), Deferred<Tensor>.Ready(sequenceBalance)) { }

    private AuxiliaryLossSet(Deferred<Tensor> loadBalancing, Deferred<Tensor> routerZ, Deferred<Tensor> entropy, Deferred<Tensor> sequenceBalance) =>
        (this.loadBalancing, this.routerZ, this.entropy, this.sequenceBalance) = (loadBalancing, routerZ, entropy, sequenceBalance);

    /// <summary>Losses computed when first read (each at most once), as if computed now: same gradient mode, owned by
    /// the current dispose scope.</summary>
    public static AuxiliaryLossSet Deferred(Func<Tensor> loadBalancing, Func<Tensor> routerZ, Func<Tensor> entropy, Func<Tensor> sequenceBalance)
    {
        static Deferred<Tensor> Of(Func<Tensor> f) => Deferred<Tensor>.Of(f, t => new[] { t });
        return new AuxiliaryLossSet(Of(loadBalancing), Of(routerZ), Of(entropy), Of(sequenceBalance));
    }

    /// <summary>Switch N·Σ f_i P_i (<see cref="AuxiliaryLosses.LoadBalancing"/>).</summary>
    public Tensor LoadBalancing => loadBalancing.Value;

    /// <summary>ST-MoE z-loss (<see cref="AuxiliaryLosses.RouterZ"/>).</summary>
    public Tensor RouterZ => routerZ.Value;

    /// <summary>Mean routing entropy (<see cref="AuxiliaryLosses.Entropy"/>).</summary>
    public Tensor Entropy => entropy.Value;

    /// <summary>Sequence-level balance (<see cref="AuxiliaryLosses.SequenceBalance"/>).</summary>
    public Tensor SequenceBalance => sequenceBalance.Value;

    /// <summary>Which losses have been computed so far (load balancing, z, entropy, sequence balance).</summary>
    public (bool LoadBalancing, bool RouterZ, bool Entropy, bool SequenceBalance) Computed =>
        (loadBalancing.IsComputed, routerZ.IsComputed, entropy.IsComputed, sequenceBalance.IsComputed);

    /// <summary>Σ α_j · L_j for the given weights. Terms with a zero weight are skipped (not computed); with every
    /// weight zero the result is 0 · L_LB, a zero still in the graph.</summary>
    public Tensor Weighted(AuxiliaryLossWeights w)
    {
        Tensor? total = null;
        void Add(double weight, Func<Tensor> loss)
        {
            if (weight == 0) return;
            var term = loss().mul(weight);
            total = total is null ? term : total.add(term);
        }
        Add(w.LoadBalancing, () => LoadBalancing);
        Add(w.RouterZ, () => RouterZ);
        Add(w.Entropy, () => Entropy);
        Add(w.SequenceBalance, () => SequenceBalance);
        return total ?? LoadBalancing.mul(0);
    }

    /// <summary>All four losses 0 (scalars on <paramref name="device"/>): what a dense layer contributes.</summary>
    public static AuxiliaryLossSet Zero(Device device) => new(
        torch.zeros(Array.Empty<long>(), device: device), torch.zeros(Array.Empty<long>(), device: device),
        torch.zeros(Array.Empty<long>(), device: device), torch.zeros(Array.Empty<long>(), device: device));

    /// <summary>Element-wise sum over layers (e.g. to average or log a whole network's losses); each sum is computed
    /// when first read, reading that loss of every layer.</summary>
    public static AuxiliaryLossSet Sum(IReadOnlyList<AuxiliaryLossSet> sets)
    {
        if (sets.Count == 0) throw new ArgumentException("AuxiliaryLossSet.Sum: no layers.");
        var copy = sets.ToArray();
        return Deferred(
            () => torch.stack(copy.Select(s => s.LoadBalancing)).sum(),
            () => torch.stack(copy.Select(s => s.RouterZ)).sum(),
            () => torch.stack(copy.Select(s => s.Entropy)).sum(),
            () => torch.stack(copy.Select(s => s.SequenceBalance)).sum());
    }
}

/// <summary>Coefficients of the auxiliary losses (all default to 0; set the paper's values).</summary>
/// <param name="LoadBalancing">Switch 0.01; Seg-MoE 0.02; top-p α = 1e-2.</param>
/// <param name="RouterZ">ST-MoE 1e-3.</param>
/// <param name="Entropy">top-p β = 1e-4.</param>
/// <param name="SequenceBalance">Chain-of-Experts α = 0.001.</param>
public sealed record AuxiliaryLossWeights(double LoadBalancing = 0, double RouterZ = 0, double Entropy = 0, double SequenceBalance = 0);
