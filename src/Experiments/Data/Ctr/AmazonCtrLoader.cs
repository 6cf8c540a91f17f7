using System.Globalization;
using MoeLab.Experiments.Runtime;

namespace MoeLab.Experiments.Data.Ctr;

/// <summary>Reads a CTR data set laid out like the Amazon-review sets used by DIN and its successors,
/// converted to two tab-separated files with a header line in one folder:
/// <list type="bullet">
/// <item><c>items.tsv</c>: <c>item	category</c> — every item once (string ids).</item>
/// <item><c>interactions.tsv</c>: <c>user	item	time	label</c> — one impression per line; time a
/// number (e.g. the review's Unix time), label 1 (reviewed/clicked) or 0 (a sampled negative).</item>
/// </list>
/// A user's behaviour sequence is the time-ordered list of their positive interactions; an impression
/// sees the positives strictly before its time. The split is by time: the earliest
/// <c>trainShare</c> of impressions (by time quantile) train, the next <c>validationShare</c> validate,
/// the rest test. User field: the user id; item fields: item id, category.</summary>
public static class AmazonCtrLoader
{
    public const string ItemsFile = "items.tsv", InteractionsFile = "interactions.tsv";

    /// <summary>What to tell a user whose folder is missing or incomplete.</summary>
    public static string HowToPointAtRealFiles(string directory) =>
        $"the Amazon-style CTR loader needs a folder with '{ItemsFile}' (header 'item<TAB>category') and " +
        $"'{InteractionsFile}' (header 'user<TAB>item<TAB>time<TAB>label'); looked in '{Path.GetFullPath(directory)}'. " +
        "Convert an Amazon review dump (e.g. reviews_Electronics_5 + meta_Electronics: reviewerID, asin, unixReviewTime, " +
        "one positive per review plus sampled negatives, asin → categories[-1]) into these two files and pass the folder " +
        "with --set data.source=AmazonFiles --set data.amazonDirectory=/path/to/folder.";

    public static CtrData Load(string directory, double trainShare = 0.7, double validationShare = 0.15)
    {
        if (trainShare <= 0 || validationShare <= 0 || trainShare + validationShare >= 1)
            throw new ArgumentException($"trainShare ({trainShare}) and validationShare ({validationShare}) must be positive and sum to less than 1.");
        string itemsPath = Path.Combine(directory, ItemsFile), interactionsPath = Path.Combine(directory, InteractionsFile);
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException("folder not found: " + HowToPointAtRealFiles(directory));
        foreach (var path in new[] { itemsPath, interactionsPath })
            if (!File.Exists(path)) throw new FileNotFoundException($"'{Path.GetFileName(path)}' is missing: " + HowToPointAtRealFiles(directory), path);

        var itemIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        var categoryIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        var itemCategory = new List<int>();
        foreach (var (line, fields) in Rows(itemsPath, new[] { "item", "category" }))
        {
            if (itemIndex.ContainsKey(fields[0])) throw new DataFileException(itemsPath, line, $"item '{fields[0]}' is listed twice.");
            itemIndex[fields[0]] = itemCategory.Count;
            if (!categoryIndex.TryGetValue(fields[1], out int cat)) categoryIndex[fields[1]] = cat = categoryIndex.Count;
            itemCategory.Add(cat);
        }
        if (itemCategory.Count == 0) throw new DataFileException(itemsPath, null, "no items after the header.");

        var userIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        var rows = new List<(int User, int Item, double Time, bool Label)>();
        foreach (var (line, f) in Rows(interactionsPath, new[] { "user", "item", "time", "label" }))
        {
            if (!itemIndex.TryGetValue(f[1], out int item))
                throw new DataFileException(interactionsPath, line, $"item '{f[1]}' is not in {ItemsFile}.");
            if (!double.TryParse(f[2], NumberStyles.Float, CultureInfo.InvariantCulture, out double time) || !double.IsFinite(time))
                throw new DataFileException(interactionsPath, line, $"field 'time' = '{f[2]}' is not a number.");
            bool label = f[3] switch
            {
                "1" => true,
                "0" => false,
                _ => throw new DataFileException(interactionsPath, line, $"field 'label' = '{f[3]}'; expected 0 or 1."),
            };
            if (!userIndex.TryGetValue(f[0], out int user)) userIndex[f[0]] = user = userIndex.Count;
            rows.Add((user, item, time, label));
        }
        if (rows.Count == 0) throw new DataFileException(interactionsPath, null, "no interactions after the header.");

        // Behaviours: each user's positives in time order (ties by file order).
        var order = Enumerable.Range(0, rows.Count).OrderBy(i => rows[i].Time).ThenBy(i => i).ToArray();
        var behaviourLists = Enumerable.Range(0, userIndex.Count).Select(_ => new List<(double Time, int Item)>()).ToArray();
        foreach (int i in order)
            if (rows[i].Label) behaviourLists[rows[i].User].Add((rows[i].Time, rows[i].Item));
        var history = new int[rows.Count];
        for (int i = 0; i < rows.Count; i++)
        {
            var list = behaviourLists[rows[i].User];
            int lo = 0, hi = list.Count; // first behaviour with time ≥ the impression's
            while (lo < hi)
            {
                int mid = (lo + hi) / 2;
                if (list[mid].Time < rows[i].Time) lo = mid + 1; else hi = mid;
            }
            history[i] = lo;
        }
        var sortedTimes = order.Select(i => rows[i].Time).ToArray();
        double trainCut = sortedTimes[(int)Math.Min(sortedTimes.Length - 1, Math.Floor(trainShare * sortedTimes.Length))];
        double validCut = sortedTimes[(int)Math.Min(sortedTimes.Length - 1, Math.Floor((trainShare + validationShare) * sortedTimes.Length))];
        double minTime = sortedTimes[0], span = Math.Max(sortedTimes[^1] - minTime, 1e-12);

        var data = new CtrData
        {
            UserFieldCardinalities = new long[] { userIndex.Count },
            ItemFieldCardinalities = new long[] { itemCategory.Count, Math.Max(1, categoryIndex.Count) },
            UserFieldNames = new[] { "user" },
            ItemFieldNames = new[] { "item", "category" },
            UserFields = Enumerable.Range(0, userIndex.Count).ToArray(),
            ItemFields = Enumerable.Range(0, itemCategory.Count).SelectMany(i => new[] { i, itemCategory[i] }).ToArray(),
            Behaviours = behaviourLists.Select(l => l.Select(b => b.Item).ToArray()).ToArray(),
            ImpressionUser = rows.Select(r => r.User).ToArray(),
            ImpressionItem = rows.Select(r => r.Item).ToArray(),
            ImpressionHistory = history,
            Label = rows.Select(r => r.Label).ToArray(),
            Time = rows.Select(r => (float)((r.Time - minTime) / span)).ToArray(),
            Split = rows.Select(r => r.Time < trainCut ? CtrSplit.Train : r.Time < validCut ? CtrSplit.Validation : CtrSplit.Test).ToArray(),
        };
        data.Validate(directory);
        return data;
    }

    private static IEnumerable<(int Line, string[] Fields)> Rows(string path, string[] header)
    {
        using var reader = new StreamReader(path);
        string? first = reader.ReadLine();
        string expected = string.Join('\t', header);
        if (first is null) throw new DataFileException(path, 1, $"the file is empty; expected the header '{expected.Replace("\t", "<TAB>")}'.");
        if (first.TrimEnd('\r') != expected)
            throw new DataFileException(path, 1, $"header is '{first.Replace("\t", "<TAB>")}'; expected '{expected.Replace("\t", "<TAB>")}'.");
        int lineNo = 1;
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            lineNo++;
            line = line.TrimEnd('\r');
            if (line.Length == 0) continue;
            var fields = line.Split('\t');
            if (fields.Length != header.Length)
                throw new DataFileException(path, lineNo, $"{fields.Length} tab-separated fields; expected {header.Length} ({string.Join(", ", header)}).");
            for (int f = 0; f < fields.Length; f++)
                if (fields[f].Length == 0) throw new DataFileException(path, lineNo, $"field '{header[f]}' is empty.");
            yield return (lineNo, fields);
        }
    }

    /// <summary>Writes a small data set in this layout (for tests and to show the format): a synthetic
    /// world turned into string ids and Unix-like times, positives as reviews plus sampled negatives.</summary>
    public static void WriteSample(string directory, int users, int items, int seed)
    {
        Directory.CreateDirectory(directory);
        var rng = new Random(seed);
        int categories = Math.Max(2, items / 10);
        using (var w = new StreamWriter(Path.Combine(directory, ItemsFile)))
        {
            w.Write("item\tcategory\n");
            for (int i = 0; i < items; i++) w.Write($"B{i:D6}\tcat-{(i * 7 + rng.Next(2)) % categories}\n");
        }
        using (var w = new StreamWriter(Path.Combine(directory, InteractionsFile)))
        {
            w.Write("user\titem\ttime\tlabel\n");
            for (int u = 0; u < users; u++)
            {
                int favourite = rng.Next(categories);
                int n = 2 + rng.Next(12);
                long t = 1_300_000_000 + rng.Next(1_000_000);
                for (int j = 0; j < n; j++)
                {
                    t += 1 + rng.Next(100_000);
                    int item = rng.Next(items);
                    bool positive = (item * 7 % categories == favourite) ? rng.NextDouble() < 0.8 : rng.NextDouble() < 0.3;
                    w.Write($"U{u:D5}\tB{item:D6}\t{t}\t{(positive ? 1 : 0)}\n");
                }
            }
        }
    }
}
