namespace MoeLab.Metrics.ScalingLaws;

/// <summary>y = Coefficient · x^Exponent.</summary>
public readonly record struct PowerLaw(double Coefficient, double Exponent)
{
    public double At(double x)
    {
        if (!(x > 0)) throw new ArgumentOutOfRangeException(nameof(x), x, "a power law is evaluated at x > 0.");
        return Coefficient * Math.Pow(x, Exponent);
    }

    /// <summary>The x with At(x) = y.</summary>
    public double Inverse(double y)
    {
        if (!(y > 0) || !(Coefficient > 0) || Exponent == 0)
            throw new ArgumentOutOfRangeException(nameof(y), y, $"cannot invert {this} at y = {y}.");
        return Math.Pow(y / Coefficient, 1.0 / Exponent);
    }

    public override string ToString() => $"{Coefficient:G4}·x^{Exponent:G4}";
}

/// <summary>The compute-optimal hyper-parameter and allocation laws of arXiv 2507.17702 (§3), all in
/// training compute C (FLOPs). The paper's coefficients, fitted on its runs; nothing here is ours.</summary>
public static class ComputeOptimalLaws
{
    /// <summary>Optimal peak learning rate η_opt = 1.1576·C^−0.1529.</summary>
    public static PowerLaw LearningRate { get; } = new(1.1576, -0.1529);

    /// <summary>Optimal batch size in tokens B_opt = 0.0694·C^0.3644.</summary>
    public static PowerLaw BatchTokens { get; } = new(0.0694, 0.3644);

    /// <summary>Dense: optimal non-embedding FLOPs per token M_opt = 0.0655·C^0.5422.</summary>
    public static PowerLaw DenseModelFlops { get; } = new(0.0655, 0.5422);

    /// <summary>Dense: optimal training tokens D_opt = 15.2582·C^0.4578.</summary>
    public static PowerLaw DenseTokens { get; } = new(15.2582, 0.4578);

    /// <summary>MoE: optimal non-embedding FLOPs per token M_opt = 0.1915·C^0.5095.</summary>
    public static PowerLaw MoeModelFlops { get; } = new(0.1915, 0.5095);

    /// <summary>MoE: optimal training tokens D_opt = 5.2232·C^0.4905.</summary>
    public static PowerLaw MoeTokens { get; } = new(5.2232, 0.4905);
}

/// <summary>A loss–compute law L(C) = α·C^−β of one model family, and the efficiency leverage it implies.</summary>
public static class LeverageFromLosses
{
    /// <summary>Loss law of a family as a <see cref="PowerLaw"/> (Coefficient α, Exponent −β).</summary>
    public static PowerLaw LossLaw(double alpha, double beta) => new(alpha, -beta);

    /// <summary>Measured leverage of one run: the compute the dense law needs to reach
    /// <paramref name="loss"/>, divided by the run's own compute <paramref name="compute"/>
    /// (EL = C_dense(L) / C_run). Extrapolates the dense law when the loss lies outside the fitted range.</summary>
    public static double Measured(PowerLaw denseLoss, double loss, double compute)
    {
        if (!(compute > 0)) throw new ArgumentOutOfRangeException(nameof(compute), compute, "compute must be > 0.");
        return denseLoss.Inverse(loss) / compute;
    }

    /// <summary>Leverage between two fitted families at equal loss, as a function of the MoE compute:
    /// EL(C) = C_dense(L_moe(C)) / C.</summary>
    public static double BetweenLaws(PowerLaw denseLoss, PowerLaw moeLoss, double compute) =>
        Measured(denseLoss, moeLoss.At(compute), compute);
}
