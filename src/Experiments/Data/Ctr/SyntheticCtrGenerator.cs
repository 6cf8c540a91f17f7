using System.ComponentModel.DataAnnotations;

namespace MoeLab.Experiments.Data.Ctr;

/// <summary>Settings of <see cref="SyntheticCtrGenerator"/>. All values are ours (there is no public
/// description of the paper's data); comments say why.</summary>
public sealed record SyntheticCtrConfig
{
    /// <summary>Users (each gets a persona, a history and several impressions).</summary>
    [Range(2, 10_000_000)] public int Users { get; init; } = 20_000;

    /// <summary>Items in the catalogue.</summary>
    [Range(10, 10_000_000)] public int Items { get; init; } = 2_000;

    [Range(2, 1000)] public int Categories { get; init; } = 20;
    [Range(2, 10_000)] public int Brands { get; init; } = 50;

    /// <summary>Latent personas, each with its own click function (4–8 as the task asks).</summary>
    [Range(2, 64)] public int Personas { get; init; } = 6;

    /// <summary>Mean impressions per user (at least 2 each, so that most users can have both labels).</summary>
    [Range(2.0, 1000.0)] public double MeanImpressionsPerUser { get; init; } = 10;

    /// <summary>History length L = ⌈exp(N(μ, σ²))⌉ clipped to [1, max]: with μ = 1.3, σ = 1.2 about 60 % of
    /// users have ≤ 5 behaviours and ≈ 1.5 % have ≥ 50 (heavy tail).</summary>
    [Range(-5.0, 10.0)] public double HistoryLogMean { get; init; } = 1.3;

    [Range(0.0, 5.0)] public double HistoryLogStd { get; init; } = 1.2;

    [Range(1, 10_000)] public int MaxHistory { get; init; } = 100;

    /// <summary>Probability that a behaviour (or a proposed impression) is a uniformly random item rather
    /// than one drawn from the persona's tastes: how noisily a sequence reveals its persona.</summary>
    [Range(0.0, 1.0)] public double BehaviourNoise { get; init; } = 0.3;

    /// <summary>Share of impressions proposed from the persona's tastes (the rest are random items).</summary>
    [Range(0.0, 1.0)] public double RelevantImpressionShare { get; init; } = 0.5;

    /// <summary>Probability that the age field reveals the persona (else uniform): the non-sequence
    /// features carry some persona information, the sequence more.</summary>
    [Range(0.0, 1.0)] public double AgeRevealsPersona { get; init; } = 0.3;

    /// <summary>Click logit = scale · z_persona(item) + bias + N(0, noise²), z standardised per persona.</summary>
    [Range(0.0, 20.0)] public double ClickScale { get; init; } = 2.0;

    [Range(-10.0, 10.0)] public double ClickBias { get; init; } = -1.0;

    [Range(0.0, 10.0)] public double ClickNoise { get; init; } = 0.5;

    /// <summary>Time split: impressions with time &lt; this are training data…</summary>
    [Range(0.05, 0.95)] public double TrainUntil { get; init; } = 0.7;

    /// <summary>…then validation until this, then test.</summary>
    [Range(0.1, 0.99)] public double ValidationUntil { get; init; } = 0.85;
}

/// <summary>The seeded synthetic CTR world of the AW-MoE reconstruction (our design):
/// <list type="bullet">
/// <item>Items have a category, a brand and continuous price, discount and rating (models only see
/// them bucketed: price 8, discount 4, rating 5 buckets).</item>
/// <item>Each of P personas has its own click function f_p(item) = w_p · [price, discount, rating,
/// price·discount, brand quality] + category affinity_p + brand affinity_p, standardised over the
/// catalogue to z_p. Three favourite categories per persona carry a high affinity.</item>
/// <item>A user's behaviour sequence is drawn from the persona's tastes (a category from softmax(2 ·
/// affinity), then the best of 4 random items of that category under f_p), with probability
/// <see cref="SyntheticCtrConfig.BehaviourNoise"/> a random item: the sequence reveals the persona
/// noisily, more so the longer it is. Lengths are log-normal (heavy tail).</item>
/// <item>Impressions: an item from the persona's tastes or a random one, a uniform time in [0, 1),
/// label ~ Bernoulli(σ(scale · z_p(item) + bias + noise)); split by time.</item>
/// <item>User fields: age (6 buckets, persona-linked with some probability), gender (2), region (10)
/// — the last two are pure noise. Item fields: id, category, brand, price, discount, rating buckets.</item>
/// </list>
/// The persona id is kept in <see cref="CtrData.Persona"/> for evaluation only.</summary>
public static class SyntheticCtrGenerator
{
    public static readonly string[] UserFieldNames = { "age", "gender", "region" };
    public static readonly string[] ItemFieldNames = { "item", "category", "brand", "price", "discount", "rating" };

    public static CtrData Generate(SyntheticCtrConfig c, Random rng)
    {
        if (c.ValidationUntil <= c.TrainUntil)
            throw new ArgumentException($"data.synthetic.validationUntil = {c.ValidationUntil} must be > trainUntil = {c.TrainUntil}.");
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

        // Items.
        int I = c.Items, P = c.Personas;
        var category = new int[I];
        var brand = new int[I];
        var traits = new double[I, 5];
        var brandQuality = Enumerable.Range(0, c.Brands).Select(_ => Normal()).ToArray();
        var itemFields = new int[I * 6];
        for (int i = 0; i < I; i++)
        {
            category[i] = rng.Next(c.Categories);
            brand[i] = rng.Next(c.Brands);
            double price = Normal(), discount = rng.NextDouble(), rating = Normal();
            traits[i, 0] = price;
            traits[i, 1] = 2 * discount - 1;
            traits[i, 2] = rating;
            traits[i, 3] = price * (2 * discount - 1);
            traits[i, 4] = brandQuality[brand[i]];
            itemFields[i * 6] = i;
            itemFields[i * 6 + 1] = category[i];
            itemFields[i * 6 + 2] = brand[i];
            itemFields[i * 6 + 3] = Bucket(NormalCdf(price), 8);
            itemFields[i * 6 + 4] = Bucket(discount, 4);
            itemFields[i * 6 + 5] = Bucket(NormalCdf(rating), 5);
        }
        var itemsByCategory = Enumerable.Range(0, c.Categories).Select(k => new List<int>()).ToArray();
        for (int i = 0; i < I; i++) itemsByCategory[category[i]].Add(i);
        var nonEmptyCategories = Enumerable.Range(0, c.Categories).Where(k => itemsByCategory[k].Count > 0).ToArray();

        // Personas: click functions, standardised over the catalogue; category preference for sampling.
        var z = new float[P, I];
        var categoryCdf = new double[P][];
        var personaAge = new int[P];
        for (int p = 0; p < P; p++)
        {
            var w = Enumerable.Range(0, 5).Select(_ => Normal()).ToArray();
            var affinity = Enumerable.Range(0, c.Categories).Select(_ => -0.5 * rng.NextDouble()).ToArray();
            foreach (int fav in nonEmptyCategories.OrderBy(_ => rng.Next()).Take(3)) affinity[fav] = 1.5;
            var brandAffinity = Enumerable.Range(0, c.Brands).Select(_ => 0.5 * Normal()).ToArray();
            var f = new double[I];
            for (int i = 0; i < I; i++)
            {
                double s = affinity[category[i]] + brandAffinity[brand[i]];
                for (int j = 0; j < 5; j++) s += w[j] * traits[i, j];
                f[i] = s;
            }
            double mean = f.Average(), std = Math.Sqrt(f.Sum(v => (v - mean) * (v - mean)) / I);
            for (int i = 0; i < I; i++) z[p, i] = (float)((f[i] - mean) / Math.Max(std, 1e-9));
            var weights = nonEmptyCategories.Select(k => Math.Exp(2 * affinity[k])).ToArray();
            double total = weights.Sum(), acc = 0;
            categoryCdf[p] = weights.Select(v => acc += v / total).ToArray();
            personaAge[p] = p % 6;
        }

        int TasteItem(int p)
        {
            if (rng.NextDouble() < c.BehaviourNoise) return rng.Next(I);
            double u = rng.NextDouble();
            int k = Array.FindIndex(categoryCdf[p], v => u <= v);
            var pool = itemsByCategory[nonEmptyCategories[k < 0 ? nonEmptyCategories.Length - 1 : k]];
            int best = pool[rng.Next(pool.Count)];
            for (int j = 1; j < 4; j++)
            {
                int cand = pool[rng.Next(pool.Count)];
                if (z[p, cand] > z[p, best]) best = cand;
            }
            return best;
        }

        // Users.
        int U = c.Users;
        var persona = new int[U];
        var userFields = new int[U * 3];
        var behaviours = new int[U][];
        var impUser = new List<int>(); var impItem = new List<int>(); var impHistory = new List<int>();
        var label = new List<bool>(); var time = new List<float>(); var split = new List<CtrSplit>();
        double lambda = c.MeanImpressionsPerUser - 2;
        for (int u = 0; u < U; u++)
        {
            int p = rng.Next(P);
            persona[u] = p;
            userFields[u * 3] = rng.NextDouble() < c.AgeRevealsPersona ? personaAge[p] : rng.Next(6);
            userFields[u * 3 + 1] = rng.Next(2);
            userFields[u * 3 + 2] = rng.Next(10);
            int length = (int)Math.Clamp(Math.Ceiling(Math.Exp(c.HistoryLogMean + c.HistoryLogStd * Normal())), 1, c.MaxHistory);
            var seq = new int[length];
            for (int t = 0; t < length; t++) seq[t] = TasteItem(p);
            behaviours[u] = seq;
            int n = 2 + Poisson(lambda, rng);
            for (int j = 0; j < n; j++)
            {
                int item = rng.NextDouble() < c.RelevantImpressionShare ? TasteItem(p) : rng.Next(I);
                double logit = c.ClickScale * z[p, item] + c.ClickBias + c.ClickNoise * Normal();
                float t = (float)rng.NextDouble();
                impUser.Add(u);
                impItem.Add(item);
                impHistory.Add(length);
                label.Add(rng.NextDouble() < 1 / (1 + Math.Exp(-logit)));
                time.Add(t);
                split.Add(t < c.TrainUntil ? CtrSplit.Train : t < c.ValidationUntil ? CtrSplit.Validation : CtrSplit.Test);
            }
        }
        return new CtrData
        {
            UserFieldCardinalities = new long[] { 6, 2, 10 },
            ItemFieldCardinalities = new long[] { I, c.Categories, c.Brands, 8, 4, 5 },
            UserFieldNames = UserFieldNames,
            ItemFieldNames = ItemFieldNames,
            UserFields = userFields,
            ItemFields = itemFields,
            Behaviours = behaviours,
            ImpressionUser = impUser.ToArray(),
            ImpressionItem = impItem.ToArray(),
            ImpressionHistory = impHistory.ToArray(),
            Label = label.ToArray(),
            Time = time.ToArray(),
            Split = split.ToArray(),
            Persona = persona,
        };
    }

    private static int Bucket(double unit, int buckets) => Math.Clamp((int)(unit * buckets), 0, buckets - 1);

    /// <summary>Φ(x) via erf's Abramowitz–Stegun approximation (|error| &lt; 1.5e-7; only used for bucketing).</summary>
    private static double NormalCdf(double x)
    {
        double t = 1 / (1 + 0.3275911 * Math.Abs(x) / Math.Sqrt(2));
        double y = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.Exp(-x * x / 2);
        return x >= 0 ? 0.5 * (1 + y) : 0.5 * (1 - y);
    }

    private static int Poisson(double lambda, Random rng)
    {
        if (lambda <= 0) return 0;
        if (lambda > 30) return Math.Max(0, (int)Math.Round(lambda + Math.Sqrt(lambda) * Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble())));
        double l = Math.Exp(-lambda), prod = rng.NextDouble();
        int k = 0;
        while (prod > l)
        {
            k++;
            prod *= rng.NextDouble();
        }
        return k;
    }
}
