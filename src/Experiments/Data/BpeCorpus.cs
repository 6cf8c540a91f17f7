using Microsoft.ML.Tokenizers;

namespace MoeLab.Experiments.Data;

/// <summary>A tokenised language-modelling corpus: documents → GPT-2 BPE ids (Microsoft.ML.Tokenizers'
/// TiktokenTokenizer for "gpt2", the tokenizer DynaMoE uses), split by document into
/// train/validation/test, each split one stream of ids with an end-of-text token after every
/// document, cut into non-overlapping windows of <c>SequenceLength + 1</c> tokens (inputs + shifted
/// targets).
/// <para>Vocabulary: GPT-2 has 50,257 types, which alone would exceed DynaMoE's 85K–1.4M-parameter
/// models at any useful width. We therefore map to a compact closed vocabulary: the GPT-2 ids
/// that occur in the training split (sorted by id), plus one <c>&lt;unk&gt;</c> id for ids seen only in
/// validation/test. Perplexity is over this vocabulary; the share of unknown targets is reported.</para></summary>
public sealed class BpeCorpus
{
    public const int Gpt2EndOfText = 50256;

    public int SequenceLength { get; }
    /// <summary>Compact id → GPT-2 id (the last entry is −1 for &lt;unk&gt;).</summary>
    public int[] Gpt2Ids { get; }
    public int VocabularySize => Gpt2Ids.Length;
    public int UnknownId => Gpt2Ids.Length - 1;
    /// <summary>Compact-id streams of each split.</summary>
    public int[] Train { get; }
    public int[] Validation { get; }
    public int[] Test { get; }
    public int DocumentCount { get; }

    private BpeCorpus(int sequenceLength, int[] gpt2Ids, int[] train, int[] validation, int[] test, int documents)
    {
        SequenceLength = sequenceLength; Gpt2Ids = gpt2Ids; Train = train; Validation = validation; Test = test; DocumentCount = documents;
    }

    private static readonly Lazy<Tokenizer> Gpt2 = new(() => TiktokenTokenizer.CreateForModel("gpt2"));

    /// <summary>The GPT-2 BPE tokenizer (TiktokenTokenizer.CreateForModel("gpt2")).</summary>
    public static Tokenizer Gpt2Tokenizer => Gpt2.Value;

    /// <summary>Builds the corpus: a seeded shuffle of <paramref name="documents"/>, the first
    /// <paramref name="documentCount"/> kept, split by document (fractions of documents).
    /// <paramref name="maxVocabulary"/> (optional) caps the compact vocabulary: only the
    /// maxVocabulary − 1 most frequent training ids (ties: lower GPT-2 id first) keep an id, all others
    /// become &lt;unk&gt; in every split (small models whose logits would otherwise dominate their compute).</summary>
    public static BpeCorpus Build(IReadOnlyList<string> documents, int documentCount, int sequenceLength,
        double validationFraction, double testFraction, long seed, int? maxVocabulary = null)
    {
        if (maxVocabulary is < 2) throw new ArgumentOutOfRangeException(nameof(maxVocabulary), $"vocabulary cap {maxVocabulary} must be ≥ 2 (one id plus <unk>).");
        if (sequenceLength < 1) throw new ArgumentOutOfRangeException(nameof(sequenceLength), $"sequence length {sequenceLength} must be ≥ 1.");
        if (validationFraction <= 0 || testFraction <= 0 || validationFraction + testFraction >= 1)
            throw new ArgumentException($"validation ({validationFraction}) and test ({testFraction}) fractions must be > 0 and sum below 1.");
        if (documents.Count < 3) throw new ArgumentException($"need at least 3 documents, got {documents.Count}.");
        int n = Math.Min(documentCount, documents.Count);
        int[] order = ImageDataset.SeededPermutation(documents.Count, seed)[..n];
        int nVal = Math.Max(1, (int)Math.Round(n * validationFraction));
        int nTest = Math.Max(1, (int)Math.Round(n * testFraction));
        int nTrain = n - nVal - nTest;
        if (nTrain < 1) throw new ArgumentException($"{n} documents leave no training documents.");
        var tok = Gpt2Tokenizer;
        List<int> Encode(IEnumerable<int> docIdx)
        {
            var ids = new List<int>();
            foreach (int d in docIdx) { ids.AddRange(tok.EncodeToIds(documents[d])); ids.Add(Gpt2EndOfText); }
            return ids;
        }
        var train = Encode(order[..nTrain]);
        var val = Encode(order[nTrain..(nTrain + nVal)]);
        var test = Encode(order[(nTrain + nVal)..]);
        var vocab = maxVocabulary is int cap
            ? train.GroupBy(i => i).OrderByDescending(g => g.Count()).ThenBy(g => g.Key).Take(cap - 1).Select(g => g.Key).OrderBy(i => i).ToList()
            : train.Distinct().OrderBy(i => i).ToList();
        var index = new Dictionary<int, int>(vocab.Count);
        for (int i = 0; i < vocab.Count; i++) index[vocab[i]] = i;
        int unk = vocab.Count;
        int[] Map(List<int> ids) => ids.Select(i => index.TryGetValue(i, out int c) ? c : unk).ToArray();
        return new BpeCorpus(sequenceLength, [.. vocab, -1], Map(train), Map(val), Map(test), n);
    }

    /// <summary>A corpus whose splits are given as documents (e.g. a generator's training problems and
    /// its held-out problems): each split is one stream of GPT-2 ids with end-of-text after every
    /// document; the compact vocabulary is the training split's ids + &lt;unk&gt;. <paramref name="test"/> may be empty.</summary>
    public static BpeCorpus FromSplits(IReadOnlyList<string> train, IReadOnlyList<string> validation, IReadOnlyList<string> test, int sequenceLength)
    {
        if (sequenceLength < 1) throw new ArgumentOutOfRangeException(nameof(sequenceLength), $"sequence length {sequenceLength} must be ≥ 1.");
        if (train.Count < 1 || validation.Count < 1)
            throw new ArgumentException($"BpeCorpus.FromSplits: need at least one training and one validation document, got {train.Count} and {validation.Count}.");
        var tok = Gpt2Tokenizer;
        List<int> Encode(IReadOnlyList<string> docs)
        {
            var ids = new List<int>();
            foreach (string d in docs) { ids.AddRange(tok.EncodeToIds(d)); ids.Add(Gpt2EndOfText); }
            return ids;
        }
        var tr = Encode(train);
        var vocab = tr.Distinct().OrderBy(i => i).ToList();
        var index = new Dictionary<int, int>(vocab.Count);
        for (int i = 0; i < vocab.Count; i++) index[vocab[i]] = i;
        int unk = vocab.Count;
        int[] Map(List<int> ids) => ids.Select(i => index.TryGetValue(i, out int c) ? c : unk).ToArray();
        return new BpeCorpus(sequenceLength, [.. vocab, -1], Map(tr), Map(Encode(validation)), Map(Encode(test)),
            train.Count + validation.Count + test.Count);
    }

    /// <summary>Non-overlapping windows of <c>SequenceLength + 1</c> ids of a split (the tail that
    /// does not fill a window is dropped). Row-major [windows, SequenceLength + 1].</summary>
    public int[] Windows(int[] stream, out int count)
    {
        int w = SequenceLength + 1;
        count = stream.Length / w;
        return stream[..(count * w)];
    }

    /// <summary>Share of ids in <paramref name="stream"/> that are &lt;unk&gt;.</summary>
    public double UnknownRate(int[] stream) => stream.Length == 0 ? 0 : stream.Count(i => i == UnknownId) / (double)stream.Length;

    /// <summary>Decodes compact ids back to text (&lt;unk&gt; shown as "�").</summary>
    public string Decode(IEnumerable<int> compactIds) =>
        string.Concat(compactIds.Select(c => c == UnknownId ? "\uFFFD" : Gpt2Tokenizer.Decode([Gpt2Ids[c]])));
}
