namespace MoeLab.Metrics.ScalingLaws;

/// <summary>The unified efficiency-leverage law of "Towards Greater Leverage" (arXiv 2507.17702, §4, eq. for
/// EL(A, G, C) and its Table 2):
/// <code>
///   EL(A, G, C) = Â ^ ( α + γ·(log G)² + β·log G ),   α = a + d·log C,
///   1/Â = 1 / (A + (1/A_start − 1/A_max)⁻¹) + 1/A_max.
/// </code>
/// EL is the compute a dense model needs to reach the MoE's loss divided by the MoE's compute. Â is a
/// saturating version of the activation ratio A: close to A + A_start for small A, bounded by A_max.
/// The exponent is quadratic in log G, so at fixed A and C the leverage is largest at the granularity
/// G* = base_G^(−β / (2γ)) (a U shape in G of the exponent, since log Â &lt; 0).
/// <para>Log bases: the paper does not state them. This type takes both as parameters. The defaults,
/// log10 for compute and log2 for granularity, are the only combination of {2, e, 10} under which the
/// paper's own stated consequences hold with its Table 2 coefficients: G* ≈ 11.3 (the paper: optimal
/// G around 8–12) and EL ≈ 7.2 at A = 3.1 %, G = 12, C = 10²² (the paper: over 7× for Ling-mini-beta).
/// We chose them for that reason, before fitting anything of our own; the tests tabulate what every
/// other combination gives.</para>
/// <para>Compute C is training FLOPs, C = 6·N_active·D-style: 3 × (non-embedding forward FLOPs per token,
/// attention and logits included) × training tokens (<see cref="TransformerFlops"/>).</para></summary>
/// <param name="A">the constant a of α = a + d·log C.</param>
/// <param name="D">the slope d of α in log C (negative: leverage grows with compute).</param>
/// <param name="Gamma">γ, the curvature in log G.</param>
/// <param name="Beta">β, the slope in log G.</param>
/// <param name="AStart">A_start of the saturating activation term.</param>
/// <param name="AMax">A_max of the saturating activation term (≥ A_start; +∞ allowed).</param>
/// <param name="ComputeLog">base of log C.</param>
/// <param name="GranularityLog">base of log G.</param>
public sealed record EfficiencyLeverageLaw(
    double A, double D, double Gamma, double Beta, double AStart, double AMax,
    LogBase ComputeLog = LogBase.Ten, LogBase GranularityLog = LogBase.Two)
{
    /// <summary>The paper's Table 2 coefficients (fitted by its authors on their own runs, EL &lt; 6 only),
    /// with our log bases (log10 C, log2 G).</summary>
    public static EfficiencyLeverageLaw PaperTable2 { get; } = new(1.23, -7.61e-2, 1.67e-2, -1.17e-1, 1.63e-2, 5.28e16);

    /// <summary>The same coefficients read with other log bases.</summary>
    public EfficiencyLeverageLaw WithBases(LogBase compute, LogBase granularity) => this with { ComputeLog = compute, GranularityLog = granularity };

    /// <summary>Â, the saturating activation term: 1/Â = 1/(A + (1/A_start − 1/A_max)⁻¹) + 1/A_max.</summary>
    public double SaturatedActivation(double activationRatio)
    {
        if (!(activationRatio > 0) || activationRatio > 1)
            throw new ArgumentOutOfRangeException(nameof(activationRatio), activationRatio, "activation ratio A must lie in (0, 1].");
        if (!(AStart > 0) || !(AMax > AStart))
            throw new InvalidOperationException($"EfficiencyLeverageLaw: need 0 < A_start < A_max, got A_start = {AStart}, A_max = {AMax}.");
        double offset = 1.0 / (1.0 / AStart - 1.0 / AMax);
        return 1.0 / (1.0 / (activationRatio + offset) + 1.0 / AMax);
    }

    /// <summary>α(C) = a + d·log C.</summary>
    public double Alpha(double compute)
    {
        if (!(compute > 0)) throw new ArgumentOutOfRangeException(nameof(compute), compute, "compute C must be > 0 FLOPs.");
        return A + D * ComputeLog.Log(compute);
    }

    /// <summary>The exponent of Â: α(C) + γ·(log G)² + β·log G.</summary>
    public double Exponent(double granularity, double compute)
    {
        if (!(granularity > 0)) throw new ArgumentOutOfRangeException(nameof(granularity), granularity, "granularity G must be > 0.");
        double lg = GranularityLog.Log(granularity);
        return Alpha(compute) + Gamma * lg * lg + Beta * lg;
    }

    /// <summary>EL(A, G, C).</summary>
    public double Leverage(double activationRatio, double granularity, double compute) =>
        Math.Pow(SaturatedActivation(activationRatio), Exponent(granularity, compute));

    /// <summary>log EL (natural log): exponent · ln Â. The fitter works on this.</summary>
    public double LogLeverage(double activationRatio, double granularity, double compute) =>
        Exponent(granularity, compute) * Math.Log(SaturatedActivation(activationRatio));

    /// <summary>G* = base_G^(−β/(2γ)), where the exponent is smallest; since ln Â &lt; 0 that is where EL is
    /// largest, at every A and C. Needs γ &gt; 0 (otherwise there is no interior optimum).</summary>
    public double OptimalGranularity()
    {
        if (!(Gamma > 0)) throw new InvalidOperationException($"EfficiencyLeverageLaw: γ = {Gamma} ≤ 0, so the exponent has no minimum in log G.");
        return GranularityLog.Power(-Beta / (2 * Gamma));
    }

    /// <summary>The compute at which EL = 1 for given A and G (the exponent is 0): below it the law
    /// predicts the MoE is less efficient than dense. Solves a + d·log C + γ(log G)² + β log G = 0.</summary>
    public double BreakEvenCompute(double granularity)
    {
        if (D == 0) throw new InvalidOperationException("EfficiencyLeverageLaw: d = 0, the exponent does not depend on compute.");
        double lg = GranularityLog.Log(granularity);
        return ComputeLog.Power(-(A + Gamma * lg * lg + Beta * lg) / D);
    }

    /// <summary>The six coefficients in the order of <see cref="FromVector"/>.</summary>
    public double[] ToVector() => [A, D, Gamma, Beta, AStart, AMax];

    public static EfficiencyLeverageLaw FromVector(IReadOnlyList<double> p, LogBase computeLog = LogBase.Ten, LogBase granularityLog = LogBase.Two) =>
        p.Count == 6 ? new(p[0], p[1], p[2], p[3], p[4], p[5], computeLog, granularityLog)
                     : throw new ArgumentException($"EfficiencyLeverageLaw.FromVector: expected 6 coefficients, got {p.Count}.");

    public static readonly string[] CoefficientNames = ["a", "d", "gamma", "beta", "A_start", "A_max"];
}
