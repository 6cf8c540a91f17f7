namespace MoeLab.Models.Layers;

/// <summary>How a residual block combines the feed-forward slot's output y = F(Norm(h)) with its input h.</summary>
public enum FeedForwardResidual
{
    /// <summary>h + y: the usual pre-norm residual (dense FFN, MoE, Seg-MoE, CoE with the outer residual).</summary>
    Add,

    /// <summary>y alone: Chain-of-Experts' default, whose output u_C already carries its own
    /// residual path from u_0 = Norm(h), and whose official decoder layer does not add h back.</summary>
    Replace,
}
