using MoeLab.Models.Experts;
using MoeLab.Models.Layers;
using MoeLab.Models.Routing;

namespace MoeLab.Experiments.Papers.ChainOfExperts;

/// <summary>One arm of the Chain-of-Experts comparison: what fills every layer's feed-forward slot and
/// how many layers. MoE arms are CoE with C = 1 (the official code's baseline goes through the same
/// residual path: u_0 = RMSNorm(h), output u_1 = u_0 + routed + shared, no outer residual).</summary>
/// <param name="Name">config name (see <see cref="AllNames"/>).</param>
/// <param name="Iterations">C.</param>
/// <param name="K">experts per token per iteration (0 for dense arms).</param>
/// <param name="Experts">routed experts N (0 for dense arms).</param>
/// <param name="Layers">decoder layers.</param>
/// <param name="Dense">one dense SwiGLU FFN of width (K + shared)·expert width, iterated C times, no router.</param>
public sealed record ChainOfExpertsArm(string Name, int Iterations, int K, int Experts, int Layers, bool Dense = false,
    bool ShareRouter = false, bool OuterResidual = false)
{
    /// <summary>Every arm, in the order runs train them.</summary>
    public static readonly IReadOnlyList<string> AllNames =
    [
        "moe-k", "coe-c2-half-k", "coe-c2-k", "moe-2k", "moe-3k", "coe-c2-half-k-fewer-experts",
        "moe-k-2x-layers", "moe-k-3x-layers", "coe-c2-k-shared-router", "coe-c2-k-outer-residual", "dense-c1", "dense-c2",
    ];

    /// <summary>The arm called <paramref name="name"/> for model <paramref name="m"/>.</summary>
    public static ChainOfExpertsArm Of(string name, CoeModelConfig m) => name switch
    {
        "moe-k" => new(name, 1, m.K, m.Experts, m.Layers),
        "coe-c2-half-k" => new(name, 2, m.K / 2, m.Experts, m.Layers),
        "coe-c2-k" => new(name, 2, m.K, m.Experts, m.Layers),
        "moe-2k" => new(name, 1, 2 * m.K, m.Experts, m.Layers),
        "moe-3k" => new(name, 1, 3 * m.K, m.Experts, m.Layers),
        "coe-c2-half-k-fewer-experts" => new(name, 2, m.K / 2, m.FewerExperts, m.Layers),
        "moe-k-2x-layers" => new(name, 1, m.K, m.Experts, 2 * m.Layers),
        "moe-k-3x-layers" => new(name, 1, m.K, m.Experts, 3 * m.Layers),
        "coe-c2-k-shared-router" => new(name, 2, m.K, m.Experts, m.Layers, ShareRouter: true),
        "coe-c2-k-outer-residual" => new(name, 2, m.K, m.Experts, m.Layers, OuterResidual: true),
        "dense-c1" => new(name, 1, 0, 0, m.Layers, Dense: true),
        "dense-c2" => new(name, 2, 0, 0, m.Layers, Dense: true),
        _ => throw new ArgumentException($"arms: unknown arm '{name}'; expected one of {string.Join(", ", AllNames)}."),
    };

    /// <summary>What fills each layer's slot.</summary>
    public FeedForwardSlotOptions Slot(CoeModelConfig m) => Dense
        ? new IteratedFeedForwardOptions
        {
            DModel = m.DModel, DHidden = (m.K + m.SharedExperts) * m.ExpertHidden, Kind = ExpertKind.SwiGlu, Iterations = Iterations,
            OuterResidual = OuterResidual,
        }
        : new ChainOfExpertsOptions
        {
            Moe = new MoeLayerOptions
            {
                DModel = m.DModel, DHidden = m.ExpertHidden, Experts = Experts, Kind = ExpertKind.SwiGlu,
                SharedExperts = m.SharedExperts, Router = new RouterOptions { Kind = RouterKind.TopK, K = K, Renormalize = false },
            },
            Iterations = Iterations, ShareRouter = ShareRouter, OuterResidual = OuterResidual,
        };

    /// <summary>One line for logs and tables.</summary>
    public string Describe() => Dense
        ? $"dense SwiGLU FFN, C={Iterations}, L={Layers}"
        : $"{(Iterations == 1 ? "MoE" : "CoE")} C={Iterations}, K={K}, N={Experts}, L={Layers}" +
          (ShareRouter ? ", one shared router" : "") + (OuterResidual ? ", outer residual" : "");
}
