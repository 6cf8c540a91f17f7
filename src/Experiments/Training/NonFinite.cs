using MoeLab.Experiments.Runtime;
using static TorchSharp.torch;

namespace MoeLab.Experiments.Training;

/// <summary>NaN/Inf guards for training loops. They throw <see cref="NonFiniteMetricException"/>
/// (which metric, which step); the runtime then marks the run failed and keeps what was logged.
/// (RunContext.LogMetrics applies the same check to every logged value.)</summary>
public static class NonFinite
{
    public static double Check(string metric, long step, double value, string arm = "main")
    {
        if (!double.IsFinite(value)) throw new NonFiniteMetricException(metric, step, value, arm);
        return value;
    }

    /// <summary>Reads a scalar tensor (e.g. the loss) and checks it; returns its value.</summary>
    public static double Check(string metric, long step, Tensor scalar, string arm = "main") =>
        Check(metric, step, scalar.to(float64).item<double>(), arm);
}
