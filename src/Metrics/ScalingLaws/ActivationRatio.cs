namespace MoeLab.Metrics.ScalingLaws;

/// <summary>How the activation ratio A of a mixture-of-experts layer is counted. The efficiency-leverage
/// paper (arXiv 2507.17702) defines A with shared experts in both numerator and denominator, but the
/// model sizes listed in its own sweeps match other counts, so all three are offered and every use
/// names the one it takes.</summary>
public enum ActivationRatioConvention
{
    /// <summary>A = (E_a + E_s) / (E + E_s): active experts over all experts, shared ones counted on
    /// both sides (the paper's written definition).</summary>
    SharedInBoth,

    /// <summary>A = E_a / E: routed experts only (what the paper's sweep tables match; also what
    /// "A ≈ 3.1 %" for Ling-mini-beta, 12 of 384 routed experts, is).</summary>
    RoutedOnly,

    /// <summary>A = (E_a + E_s) / E: shared experts in the numerator only (what the paper's
    /// section on the activation ratio sweep matches).</summary>
    SharedInNumerator,
}

/// <summary>The architecture ratios of the efficiency-leverage law, from expert counts and widths.</summary>
public static class MoeRatios
{
    /// <summary>Activation ratio of a layer with <paramref name="routedExperts"/> E routed experts,
    /// <paramref name="activeRouted"/> E_a of them chosen per token and <paramref name="sharedExperts"/>
    /// E_s always-on experts, under <paramref name="convention"/>.</summary>
    public static double ActivationRatio(int routedExperts, int activeRouted, int sharedExperts, ActivationRatioConvention convention)
    {
        if (routedExperts < 1) throw new ArgumentException($"ActivationRatio: routed experts E = {routedExperts}, expected ≥ 1.");
        if (activeRouted < 1 || activeRouted > routedExperts)
            throw new ArgumentException($"ActivationRatio: active routed experts E_a = {activeRouted}, expected 1..E = {routedExperts}.");
        if (sharedExperts < 0) throw new ArgumentException($"ActivationRatio: shared experts E_s = {sharedExperts}, expected ≥ 0.");
        return convention switch
        {
            ActivationRatioConvention.SharedInBoth => (double)(activeRouted + sharedExperts) / (routedExperts + sharedExperts),
            ActivationRatioConvention.RoutedOnly => (double)activeRouted / routedExperts,
            ActivationRatioConvention.SharedInNumerator => (double)(activeRouted + sharedExperts) / routedExperts,
            _ => throw new ArgumentOutOfRangeException(nameof(convention), convention, "unknown activation-ratio convention"),
        };
    }

    /// <summary>Shared ratio S = E_s / (E_a + E_s): the share of a token's active experts that are shared.</summary>
    public static double SharedRatio(int activeRouted, int sharedExperts)
    {
        if (activeRouted < 0 || sharedExperts < 0 || activeRouted + sharedExperts == 0)
            throw new ArgumentException($"SharedRatio: E_a = {activeRouted}, E_s = {sharedExperts}: expected non-negative with a positive sum.");
        return (double)sharedExperts / (activeRouted + sharedExperts);
    }

    /// <summary>Granularity G = 2·d_model / d_expert: an expert of width 2·d has G = 1, one of width d/4
    /// has G = 8 (the paper's normalisation).</summary>
    public static double Granularity(int dModel, int dExpert)
    {
        if (dModel < 1 || dExpert < 1) throw new ArgumentException($"Granularity: d_model = {dModel}, d_expert = {dExpert}; expected ≥ 1 each.");
        return 2.0 * dModel / dExpert;
    }
}
