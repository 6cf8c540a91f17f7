namespace MoeLab.Metrics.Ranking;

/// <summary>Click-through-rate ranking metrics on flat arrays of (score, label, user): AUC with tied
/// scores counted as one half, GAUC (per-user AUC weighted by the user's impressions, users whose
/// labels are all one class left out) and NDCG@k per user list. Every function takes an optional
/// <c>include</c> mask so the same code serves a subset (e.g. long-tail users). Pure computation.</summary>
public static class RankingMetrics
{
    /// <summary>Area under the ROC curve = P(score of a random positive &gt; score of a random
    /// negative) + ½ P(equal), computed from mid-ranks (Mann–Whitney U). NaN when the (included)
    /// labels are all one class or there are none.</summary>
    public static double Auc(IReadOnlyList<double> scores, IReadOnlyList<bool> labels, IReadOnlyList<bool>? include = null)
    {
        Check(scores, labels, include, null);
        var idx = Enumerable.Range(0, scores.Count).Where(i => include is null || include[i]).ToArray();
        return AucOf(idx, scores, labels);
    }

    /// <summary>GAUC = Σ_u n_u · AUC_u / Σ_u n_u over users u with both classes among their (included)
    /// impressions, n_u = the user's number of impressions. NaN when no user has both classes.</summary>
    public static double GroupAuc(IReadOnlyList<double> scores, IReadOnlyList<bool> labels, IReadOnlyList<long> users, IReadOnlyList<bool>? include = null)
    {
        Check(scores, labels, include, users);
        double weighted = 0, weights = 0;
        foreach (var group in Groups(users, include))
        {
            double auc = AucOf(group, scores, labels);
            if (double.IsNaN(auc)) continue; // single-class user: no pair to rank
            weighted += group.Length * auc;
            weights += group.Length;
        }
        return weights == 0 ? double.NaN : weighted / weights;
    }

    /// <summary>Mean over users of NDCG@k of the user's list ranked by score (gain = label 0/1,
    /// discount 1/log2(rank + 1)). Tied scores are ordered pessimistically (negatives first), so a
    /// constant score earns no credit. Users without a positive (IDCG = 0) are left out; NaN when
    /// none is left.</summary>
    public static double Ndcg(IReadOnlyList<double> scores, IReadOnlyList<bool> labels, IReadOnlyList<long> users, int k, IReadOnlyList<bool>? include = null)
    {
        if (k < 1) throw new ArgumentOutOfRangeException(nameof(k), k, "NDCG@k needs k ≥ 1.");
        Check(scores, labels, include, users);
        double sum = 0;
        int count = 0;
        foreach (var group in Groups(users, include))
        {
            int positives = group.Count(i => labels[i]);
            if (positives == 0) continue;
            var ranked = group.OrderByDescending(i => scores[i]).ThenBy(i => labels[i] ? 1 : 0).ThenBy(i => i).ToArray();
            double dcg = 0, idcg = 0;
            for (int r = 0; r < Math.Min(k, ranked.Length); r++)
            {
                double discount = 1.0 / Math.Log2(r + 2);
                if (labels[ranked[r]]) dcg += discount;
                if (r < positives) idcg += discount;
            }
            sum += dcg / idcg;
            count++;
        }
        return count == 0 ? double.NaN : sum / count;
    }

    private static double AucOf(int[] idx, IReadOnlyList<double> scores, IReadOnlyList<bool> labels)
    {
        long positives = idx.LongCount(i => labels[i]), negatives = idx.Length - positives;
        if (positives == 0 || negatives == 0) return double.NaN;
        var order = idx.OrderBy(i => scores[i]).ToArray();
        double rankSumPositives = 0;
        for (int start = 0; start < order.Length;)
        {
            int end = start;
            while (end + 1 < order.Length && scores[order[end + 1]] == scores[order[start]]) end++;
            double midRank = (start + end) / 2.0 + 1; // 1-based mid-rank of the tie block
            for (int j = start; j <= end; j++)
                if (labels[order[j]]) rankSumPositives += midRank;
            start = end + 1;
        }
        double u = rankSumPositives - positives * (positives + 1) / 2.0;
        return u / ((double)positives * negatives);
    }

    private static IEnumerable<int[]> Groups(IReadOnlyList<long> users, IReadOnlyList<bool>? include)
    {
        var groups = new Dictionary<long, List<int>>();
        for (int i = 0; i < users.Count; i++)
        {
            if (include is not null && !include[i]) continue;
            if (!groups.TryGetValue(users[i], out var list)) groups[users[i]] = list = new List<int>();
            list.Add(i);
        }
        return groups.OrderBy(g => g.Key).Select(g => g.Value.ToArray());
    }

    private static void Check(IReadOnlyList<double> scores, IReadOnlyList<bool> labels, IReadOnlyList<bool>? include, IReadOnlyList<long>? users)
    {
        if (labels.Count != scores.Count)
            throw new ArgumentException($"labels has {labels.Count} entries, scores {scores.Count}; they must match.", nameof(labels));
        if (users is not null && users.Count != scores.Count)
            throw new ArgumentException($"users has {users.Count} entries, scores {scores.Count}; they must match.", nameof(users));
        if (include is not null && include.Count != scores.Count)
            throw new ArgumentException($"include has {include.Count} entries, scores {scores.Count}; they must match.", nameof(include));
        for (int i = 0; i < scores.Count; i++)
            if (double.IsNaN(scores[i])) throw new ArgumentException($"score {i} is NaN.", nameof(scores));
    }
}
