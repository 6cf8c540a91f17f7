using static TorchSharp.torch;

namespace MoeLab.Models.Routing;

/// <summary>Which selection rule a router applies.</summary>
public enum RouterKind { TopK, TopP, Percentile }

/// <summary>Config-friendly description of a router (immutable; defaults are the papers' where
/// known). <see cref="Create"/> builds the module.</summary>
public sealed record RouterOptions
{
    /// <summary>Selection rule.</summary>
    public RouterKind Kind { get; init; } = RouterKind.TopK;

    /// <summary>Top-k: experts per token (Switch 1, GShard/Mixtral 2).</summary>
    public int K { get; init; } = 2;

    /// <summary>Top-k: renormalise the chosen probabilities (Mixtral, Seg-MoE: true; CoE: false).</summary>
    public bool Renormalize { get; init; } = false;

    /// <summary>Top-k / percentile: std of Gaussian noise on the logits in training
    /// (top-k: 0 = none by default; percentile: 0.1 per third-party readings of DynaMoE).</summary>
    public double? NoiseStd { get; init; }

    /// <summary>Top-p: mass threshold p (0.4 = the official default of Huang et al.).</summary>
    public double P { get; init; } = 0.4;

    /// <summary>Percentile: τ (unknown in DynaMoE; our default 0.75 keeps about a quarter of the experts).</summary>
    public double Tau { get; init; } = 0.75;

    /// <summary>Percentile: softmax temperature T (0.5 per third-party readings of DynaMoE).</summary>
    public double Temperature { get; init; } = 0.5;

    /// <summary>Percentile: per-token, batch-wide or per-position-over-the-batch threshold.</summary>
    public PercentileMode PercentileMode { get; init; } = PercentileMode.PerToken;

    /// <summary>Builds the router for inputs of width <paramref name="inputDim"/> and N experts.</summary>
    public Router Create(int inputDim, int experts, Device? device = null) => Kind switch
    {
        RouterKind.TopK => new TopKRouter(inputDim, experts, K, Renormalize, NoiseStd ?? 0, device),
        RouterKind.TopP => new TopPRouter(inputDim, experts, P, device),
        RouterKind.Percentile => new PercentileRouter(inputDim, experts, Tau, PercentileMode, Temperature, NoiseStd ?? 0.1, renormalize: true, device),
        _ => throw new ArgumentException($"RouterOptions.Kind: unknown router kind {Kind}."),
    };

    /// <summary>False when a unit's choice can depend on units at later positions (percentile in
    /// <see cref="PercentileMode.Batch"/> mode); see <see cref="Router.IsCausal"/>.</summary>
    public bool IsCausal => !(Kind == RouterKind.Percentile && PercentileMode == PercentileMode.Batch);

    /// <summary>The rule to use inside a causal sequence model: the batch-wide percentile threshold
    /// becomes the per-position one (<see cref="PercentileMode.BatchPerPosition"/>); every other rule is
    /// already causal and is returned unchanged.</summary>
    public RouterOptions ForCausalModel() =>
        IsCausal ? this : this with { PercentileMode = PercentileMode.BatchPerPosition };

    /// <summary>Experts each token activates on average when this is known in advance
    /// (top-k: k); null for dynamic routers, whose count must be measured.</summary>
    public double? StaticActiveExperts => Kind == RouterKind.TopK ? K : null;
}
