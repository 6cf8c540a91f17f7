namespace MoeLab.Metrics.Routing;

/// <summary>How much two expert selections of the same tokens overlap (e.g. the sets a
/// Chain-of-Experts layer picks at iterations 1 and 2), with the value expected by chance.</summary>
/// <param name="Tokens">tokens compared.</param>
/// <param name="MeanJaccard">mean over tokens of |A ∩ B| / |A ∪ B|.</param>
/// <param name="MeanIntersection">mean over tokens of |A ∩ B|.</param>
/// <param name="ChanceJaccard">E[|A ∩ B| / |A ∪ B|] when A and B are independent uniform random subsets of the same sizes.</param>
/// <param name="ChanceIntersection">E[|A ∩ B|] = k_A·k_B / N under the same assumption.</param>
public sealed record OverlapSummary(long Tokens, double MeanJaccard, double MeanIntersection, double ChanceJaccard, double ChanceIntersection)
{
    /// <summary>Observed mean Jaccard divided by its chance value (1 = no more overlap than random sets).</summary>
    public double JaccardOverChance => MeanJaccard / ChanceJaccard;
}

/// <summary>Overlap of per-token expert sets (pure computation on index arrays).</summary>
public static class ExpertSetOverlap
{
    /// <summary>Compares, token by token, the expert sets <paramref name="first"/> (row-major [tokens, kFirst])
    /// and <paramref name="second"/> (row-major [tokens, kSecond]) over <paramref name="experts"/> experts.
    /// Each row must hold distinct ids in [0, experts).</summary>
    public static OverlapSummary Compare(IReadOnlyList<long> first, int kFirst, IReadOnlyList<long> second, int kSecond, int experts)
    {
        if (kFirst < 1 || kSecond < 1) throw new ArgumentException($"ExpertSetOverlap: set sizes must be ≥ 1, got {kFirst} and {kSecond}.");
        if (kFirst > experts || kSecond > experts) throw new ArgumentException($"ExpertSetOverlap: set sizes {kFirst}, {kSecond} exceed {experts} experts.");
        if (first.Count % kFirst != 0 || second.Count % kSecond != 0)
            throw new ArgumentException($"ExpertSetOverlap: {first.Count} ids do not form rows of {kFirst}, or {second.Count} rows of {kSecond}.");
        long tokens = first.Count / kFirst;
        if (second.Count / kSecond != tokens)
            throw new ArgumentException($"ExpertSetOverlap: {tokens} tokens in the first selection, {second.Count / kSecond} in the second.");
        if (tokens == 0) throw new ArgumentException("ExpertSetOverlap: no tokens.");
        var mark = new int[experts];
        double jaccard = 0, intersection = 0;
        for (long t = 0; t < tokens; t++)
        {
            int stamp = (int)(t + 1);
            for (int j = 0; j < kFirst; j++)
            {
                long e = first[(int)(t * kFirst + j)];
                if (e < 0 || e >= experts) throw new ArgumentException($"ExpertSetOverlap: expert id {e} at token {t} outside [0, {experts}).");
                if (mark[e] == stamp) throw new ArgumentException($"ExpertSetOverlap: expert {e} chosen twice for token {t} in the first selection.");
                mark[e] = stamp;
            }
            int common = 0;
            var seen = new HashSet<long>();
            for (int j = 0; j < kSecond; j++)
            {
                long e = second[(int)(t * kSecond + j)];
                if (e < 0 || e >= experts) throw new ArgumentException($"ExpertSetOverlap: expert id {e} at token {t} outside [0, {experts}).");
                if (!seen.Add(e)) throw new ArgumentException($"ExpertSetOverlap: expert {e} chosen twice for token {t} in the second selection.");
                if (mark[e] == stamp) common++;
            }
            intersection += common;
            jaccard += common / (double)(kFirst + kSecond - common);
        }
        return new OverlapSummary(tokens, jaccard / tokens, intersection / tokens,
            ChanceJaccard(experts, kFirst, kSecond), (double)kFirst * kSecond / experts);
    }

    /// <summary>E[|A ∩ B| / |A ∪ B|] for independent uniformly random subsets |A| = a, |B| = b of n items:
    /// |A ∩ B| is hypergeometric, P(j) = C(a, j)·C(n − a, b − j) / C(n, b).</summary>
    public static double ChanceJaccard(int n, int a, int b)
    {
        if (n < 1 || a < 1 || b < 1 || a > n || b > n) throw new ArgumentException($"ChanceJaccard: need 1 ≤ a, b ≤ n, got n = {n}, a = {a}, b = {b}.");
        double expected = 0, total = 0;
        for (int j = Math.Max(0, a + b - n); j <= Math.Min(a, b); j++)
        {
            double p = Math.Exp(LogChoose(a, j) + LogChoose(n - a, b - j) - LogChoose(n, b));
            total += p;
            expected += p * j / (a + b - j);
        }
        return expected / total; // total is 1 up to rounding
    }

    private static double LogChoose(int n, int k)
    {
        double s = 0;
        for (int i = 1; i <= k; i++) s += Math.Log(n - k + i) - Math.Log(i);
        return s;
    }
}
