using MoeLab.Models.Experts;
using MoeLab.Models.Layers;
using MoeLab.Models.Losses;
using MoeLab.Models.Networks;
using MoeLab.Models.Routing;

namespace MoeLab.Experiments.Papers.DynaMoE;

/// <summary>Translates a DynaMoE arm into the library's network options: L pre-norm residual
/// blocks (<see cref="FeedForwardStack"/>) whose slot is a dense GELU FFN (k·d_ff hidden units) or
/// an MoE layer with N_l GELU experts of d_ff hidden units and the arm's router. Pre-norm residual
/// blocks are our choice: the paper says only "MLP-style" networks.</summary>
public static class DynaMoeNetworkOptions
{
    /// <summary>The feed-forward stack of <paramref name="arm"/>: one slot per layer and the arm's
    /// auxiliary-loss weights (Switch balance for top-k; balance + entropy for top-p; none for
    /// percentile, per the third-party readings).</summary>
    public static FeedForwardStackOptions Stack(DynaMoeArm arm, DynaMoeModelConfig model)
    {
        var weights = arm.Kind switch
        {
            ArmKind.TopK => new AuxiliaryLossWeights(LoadBalancing: model.BalanceWeight),
            ArmKind.TopP => new AuxiliaryLossWeights(LoadBalancing: model.BalanceWeight, Entropy: model.EntropyWeight),
            ArmKind.Percentile => new AuxiliaryLossWeights(LoadBalancing: model.PercentileBalanceWeight),
            _ => new AuxiliaryLossWeights(),
        };
        var layers = new List<FeedForwardSlotOptions>(model.Layers);
        for (int l = 0; l < model.Layers; l++)
        {
            if (arm.Kind == ArmKind.Dense)
            {
                layers.Add(new DenseFeedForwardOptions
                {
                    DModel = model.Width, DHidden = model.TopK * model.ExpertHidden, Kind = ExpertKind.Gelu, Bias = false,
                });
                continue;
            }
            var router = arm.Kind switch
            {
                ArmKind.TopK => new RouterOptions { Kind = RouterKind.TopK, K = model.TopK, Renormalize = true },
                ArmKind.TopP => new RouterOptions { Kind = RouterKind.TopP, P = model.TopP },
                ArmKind.Percentile => new RouterOptions
                {
                    Kind = RouterKind.Percentile, Tau = model.Tau, Temperature = model.Temperature,
                    NoiseStd = model.NoiseStd, PercentileMode = arm.PercentileMode ?? PercentileMode.Batch,
                },
                _ => throw new ArgumentException($"arm {arm.Name}: unknown kind {arm.Kind}"),
            };
            layers.Add(new MoeLayerOptions
            {
                DModel = model.Width, DHidden = model.ExpertHidden, Experts = arm.ExpertsPerLayer[l],
                Kind = ExpertKind.Gelu, Router = router,
            });
        }
        return new FeedForwardStackOptions { Width = model.Width, Layers = layers, LossWeights = weights };
    }

    /// <summary>Parameters of one routed expert (GELU, d → d_ff → d, no bias); 0 for the dense arm.</summary>
    public static long ExpertParameters(DynaMoeArm arm, DynaMoeModelConfig model) => arm.Kind == ArmKind.Dense
        ? 0
        : new FeedForwardShape(model.Width, model.ExpertHidden, model.Width, ExpertKind.Gelu, Bias: false).Parameters;
}
