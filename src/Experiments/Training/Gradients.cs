using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Experiments.Training;

/// <summary>Gradient norms and clipping.</summary>
public static class Gradients
{
    /// <summary>Global L2 norm of all gradients (parameters without a gradient are skipped).</summary>
    public static double Norm(IEnumerable<TorchSharp.Modules.Parameter> parameters)
    {
        using var scope = NewDisposeScope();
        Tensor? total = null;
        foreach (var p in parameters)
        {
            var g = p.grad;
            if (g is null) continue;
            var sq = g.detach().to(float64).pow(2).sum(); // []
            total = total is null ? sq : total + sq;
        }
        return total is null ? 0.0 : Math.Sqrt(total.item<double>());
    }

    /// <summary>Clips the global L2 norm of the gradients to <paramref name="maxNorm"/> in place and
    /// returns the norm before clipping (log it: spikes show instabilities). maxNorm ≤ 0 or
    /// infinite = no clipping (the norm is still returned).</summary>
    public static double ClipNorm(IEnumerable<TorchSharp.Modules.Parameter> parameters, double maxNorm)
    {
        var list = parameters.Where(p => p.grad is not null).ToList();
        if (list.Count == 0) return 0.0;
        if (maxNorm <= 0 || double.IsInfinity(maxNorm)) return Norm(list);
        return nn.utils.clip_grad_norm_(list, maxNorm);
    }
}
