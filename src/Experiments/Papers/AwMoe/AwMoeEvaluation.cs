using MoeLab.Experiments.Data.Ctr;
using MoeLab.Metrics.Ranking;
using MoeLab.Models.Recommendation;
using static TorchSharp.torch;

namespace MoeLab.Experiments.Papers.AwMoe;

/// <summary>Scoring and metrics of a trained ranker (eval mode, no gradients).</summary>
public static class AwMoeEvaluation
{
    /// <summary>Logits of the impressions and, for MoE rankers, their gate vectors (row-major [n, K]).</summary>
    public static (double[] Logits, double[]? Gates) Score(CtrRanker model, CtrBatchBuilder builder, int[] impressions, int batchSize, int? keepRecent = null)
    {
        var logits = new double[impressions.Length];
        List<double>? gates = model.IsMixture ? new List<double>(impressions.Length * model.Options.Experts) : null;
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var noGrad = no_grad();
            for (int start = 0; start < impressions.Length; start += batchSize)
            {
                using var scope = NewDisposeScope();
                int n = Math.Min(batchSize, impressions.Length - start);
                var (inputs, _) = builder.Build(impressions.AsSpan(start, n), keepRecent);
                var o = model.forward(inputs);
                var l = o.Logits.to(float64).cpu().data<double>().ToArray();
                Array.Copy(l, 0, logits, start, n);
                if (gates is not null) gates.AddRange(o.Gate!.to(float64).cpu().contiguous().data<double>().ToArray());
            }
        }
        finally
        {
            if (wasTraining) model.train();
        }
        return (logits, gates?.ToArray());
    }

    /// <summary>Mean binary cross-entropy of logits against labels.</summary>
    public static double LogLoss(IReadOnlyList<double> logits, IReadOnlyList<bool> labels)
    {
        double sum = 0;
        for (int i = 0; i < logits.Count; i++)
        {
            double z = logits[i];
            // −[y log σ(z) + (1 − y) log(1 − σ(z))] = softplus(z) − y·z, computed stably.
            double softplus = z > 0 ? z + Math.Log(1 + Math.Exp(-z)) : Math.Log(1 + Math.Exp(z));
            sum += softplus - (labels[i] ? z : 0);
        }
        return sum / logits.Count;
    }

    /// <summary>AUC, GAUC, NDCG@k and log loss over all impressions, long-tail ones (true history ≤
    /// data.longTailMaxHistory) and head ones (the rest): keys "{prefix}_auc", "{prefix}_auc_longtail",
    /// "{prefix}_auc_head", … A metric that is undefined on a subset (e.g. no two-class user) is left out.</summary>
    public static IReadOnlyDictionary<string, double> RankingMetrics(string prefix, CtrData data, int[] impressions, double[] logits, AwMoeConfig c)
    {
        var labels = impressions.Select(i => data.Label[i]).ToArray();
        var users = impressions.Select(i => (long)data.ImpressionUser[i]).ToArray();
        var longTail = impressions.Select(i => data.ImpressionHistory[i] <= c.Data.LongTailMaxHistory).ToArray();
        var head = longTail.Select(v => !v).ToArray();
        var result = new Dictionary<string, double>();
        foreach (var (suffix, include) in new (string, bool[]?)[] { ("", null), ("_longtail", longTail), ("_head", head) })
        {
            void Put(string metric, double value)
            {
                if (double.IsFinite(value)) result[$"{prefix}_{metric}{suffix}"] = value;
            }
            Put("auc", Metrics.Ranking.RankingMetrics.Auc(logits, labels, include));
            Put("gauc", Metrics.Ranking.RankingMetrics.GroupAuc(logits, labels, users, include));
            Put($"ndcg{c.Eval.NdcgK}", Metrics.Ranking.RankingMetrics.Ndcg(logits, labels, users, c.Eval.NdcgK, include));
        }
        result[$"{prefix}_logloss"] = LogLoss(logits, labels);
        result[$"{prefix}_impressions_longtail"] = longTail.Count(v => v);
        return result;
    }

    /// <summary>NMI between the arg-max expert of each impression's gate and its user's true persona.</summary>
    public static double ExpertPersonaNmi(CtrData data, int[] impressions, double[] gates, int experts)
    {
        var argmax = new int[impressions.Length];
        for (int r = 0; r < impressions.Length; r++)
        {
            int best = 0;
            for (int k = 1; k < experts; k++)
                if (gates[r * experts + k] > gates[r * experts + best]) best = k;
            argmax[r] = best;
        }
        return ClusterAgreement.NormalizedMutualInformation(argmax, impressions.Select(i => data.Persona![data.ImpressionUser[i]]).ToArray());
    }

    /// <summary>Mean cosine between the gate of the full visible sequence and the gate of only the m most
    /// recent behaviours, over test impressions with at least eval.gateSimilarityMinHistory visible
    /// behaviours, for each m of eval.truncationLengths.</summary>
    public static IReadOnlyList<(int Keep, double Cosine, int Count)> GateSimilarity(CtrRanker model, CtrBatchBuilder builder, CtrData data, int[] impressions, AwMoeConfig c)
    {
        var rich = impressions.Where(i => Math.Min(data.ImpressionHistory[i], c.Data.MaxSequence) >= c.Eval.GateSimilarityMinHistory).ToArray();
        var rows = new List<(int, double, int)>();
        if (rich.Length == 0)
        {
            foreach (int m in c.Eval.TruncationLengths) rows.Add((m, double.NaN, 0));
            return rows;
        }
        var full = Score(model, builder, rich, c.Eval.BatchSize).Gates!;
        foreach (int m in c.Eval.TruncationLengths)
        {
            var truncated = Score(model, builder, rich, c.Eval.BatchSize, keepRecent: m).Gates!;
            rows.Add((m, VectorSimilarity.RowCosines(full, truncated, model.Options.Experts).Average(), rich.Length));
        }
        return rows;
    }
}
