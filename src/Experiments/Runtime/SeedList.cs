namespace MoeLab.Experiments.Runtime;

/// <summary>Parses --seeds: a count N (seeds base … base+N−1) or a comma-separated list (1,7,42).</summary>
public static class SeedList
{
    public static IReadOnlyList<long> Parse(string? text, long seedBase = 0)
    {
        if (string.IsNullOrWhiteSpace(text)) return [seedBase];
        string t = text.Trim();
        if (t.Contains(','))
        {
            var seeds = new List<long>();
            foreach (string part in t.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (!long.TryParse(part, out long s))
                    throw new ConfigException($"--seeds '{text}': '{part}' is not an integer; allowed: a count (3) or a list (1,7,42).");
                seeds.Add(s);
            }
            if (seeds.Distinct().Count() != seeds.Count) throw new ConfigException($"--seeds '{text}': a seed is listed twice.");
            return seeds;
        }
        if (!int.TryParse(t, out int n) || n < 1 || n > 10_000)
            throw new ConfigException($"--seeds '{text}': expected a count 1 … 10000 (e.g. 3 → seeds {seedBase},{seedBase + 1},{seedBase + 2}) or a list like 1,7,42 (one seed: '42,').");
        return Enumerable.Range(0, n).Select(i => seedBase + i).ToList();
    }
}
