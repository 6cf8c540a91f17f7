using MoeLab.Experiments.Data.Ctr;
using MoeLab.Experiments.Runtime;
using MoeLab.Metrics.Ranking;

namespace MoeLab.Experiments.Tests.Data;

public class CtrDataTests
{
    private static readonly SyntheticCtrConfig Small = new() { Users = 4000, Items = 300, Categories = 10, Brands = 12, Personas = 5, MeanImpressionsPerUser = 5 };

    [Fact]
    public void GeneratorIsDeterministicPerSeed()
    {
        var a = SyntheticCtrGenerator.Generate(Small, new Random(7));
        var b = SyntheticCtrGenerator.Generate(Small, new Random(7));
        var c = SyntheticCtrGenerator.Generate(Small, new Random(8));
        Assert.Equal(a.ImpressionItem, b.ImpressionItem);
        Assert.Equal(a.Label, b.Label);
        Assert.Equal(a.Persona, b.Persona);
        Assert.Equal(a.Behaviours.SelectMany(x => x), b.Behaviours.SelectMany(x => x));
        Assert.NotEqual(a.ImpressionItem, c.ImpressionItem);
        a.Validate("synthetic");
    }

    [Fact]
    public void HistoryLengthsAreHeavyTailedAsConfigured()
    {
        var d = SyntheticCtrGenerator.Generate(Small with { Users = 20_000, MeanImpressionsPerUser = 2 }, new Random(1));
        var lengths = d.Behaviours.Select(b => b.Length).ToArray();
        double shortShare = lengths.Count(l => l <= 5) / (double)lengths.Length;
        double longShare = lengths.Count(l => l >= 50) / (double)lengths.Length;
        Assert.InRange(shortShare, 0.55, 0.65);   // ≈ 60 % with ≤ 5 behaviours (Φ(0.26) = 0.60)
        Assert.InRange(longShare, 0.005, 0.03);   // a few with 50–100 (≈ 1.5 %)
        Assert.Equal(1, lengths.Min());
        Assert.Equal(100, lengths.Max());         // clipped at maxHistory, and the tail reaches it
        // The synthetic history is all before the impression window: every impression sees it all.
        Assert.All(Enumerable.Range(0, d.Impressions), i => Assert.Equal(d.Behaviours[d.ImpressionUser[i]].Length, d.ImpressionHistory[i]));
    }

    [Fact]
    public void SplitIsByTimeAndSequencesRevealThePersona()
    {
        var d = SyntheticCtrGenerator.Generate(Small, new Random(3));
        for (int i = 0; i < d.Impressions; i++)
        {
            var expected = d.Time[i] < Small.TrainUntil ? CtrSplit.Train : d.Time[i] < Small.ValidationUntil ? CtrSplit.Validation : CtrSplit.Test;
            Assert.Equal(expected, d.Split[i]);
        }
        // Users with ≥ 10 behaviours: their most frequent category carries information about the persona.
        var rich = Enumerable.Range(0, d.Users).Where(u => d.Behaviours[u].Length >= 10).ToArray();
        var modal = rich.Select(u => d.Behaviours[u].GroupBy(item => d.ItemFields[item * 6 + 1]).OrderByDescending(g => g.Count()).ThenBy(g => g.Key).First().Key).ToArray();
        double nmi = ClusterAgreement.NormalizedMutualInformation(modal, rich.Select(u => d.Persona![u]).ToArray());
        Assert.True(nmi > 0.3, $"NMI(modal category, persona) = {nmi:F3}: sequences should reveal the persona");
        double ctr = d.Label.Count(l => l) / (double)d.Impressions;
        Assert.InRange(ctr, 0.15, 0.6);
    }

    [Fact]
    public void AmazonLoaderReadsAGeneratedSample()
    {
        string dir = Directory.CreateTempSubdirectory("amazon-ctr-").FullName;
        try
        {
            AmazonCtrLoader.WriteSample(dir, users: 40, items: 30, seed: 2);
            var d = AmazonCtrLoader.Load(dir);
            Assert.Equal(40, d.Users);
            Assert.Equal(30, d.Items);
            Assert.Equal(File.ReadAllLines(Path.Combine(dir, AmazonCtrLoader.InteractionsFile)).Length - 1, d.Impressions);
            Assert.Null(d.Persona);
            // An impression sees exactly its user's positives strictly earlier in time.
            for (int i = 0; i < d.Impressions; i++)
            {
                int expected = Enumerable.Range(0, d.Impressions).Count(j => d.ImpressionUser[j] == d.ImpressionUser[i] && d.Label[j] && d.Time[j] < d.Time[i]);
                Assert.Equal(expected, d.ImpressionHistory[i]);
            }
            // Time split: every train impression is no later than every validation one, and so on.
            float maxTrain = d.IndicesOf(CtrSplit.Train).Max(i => d.Time[i]);
            float minValid = d.IndicesOf(CtrSplit.Validation).Min(i => d.Time[i]);
            float maxValid = d.IndicesOf(CtrSplit.Validation).Max(i => d.Time[i]);
            float minTest = d.IndicesOf(CtrSplit.Test).Min(i => d.Time[i]);
            Assert.True(maxTrain <= minValid && maxValid <= minTest);
            Assert.InRange(d.IndicesOf(CtrSplit.Train).Length / (double)d.Impressions, 0.6, 0.8);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void AmazonLoaderErrorsSayWhatIsWrongAndHowToPointAtTheFiles()
    {
        string dir = Directory.CreateTempSubdirectory("amazon-ctr-bad-").FullName;
        try
        {
            var missing = Assert.Throws<DirectoryNotFoundException>(() => AmazonCtrLoader.Load(Path.Combine(dir, "nope")));
            Assert.Contains("data.amazonDirectory", missing.Message);
            var noFile = Assert.Throws<FileNotFoundException>(() => AmazonCtrLoader.Load(dir));
            Assert.Contains("items.tsv", noFile.Message);
            Assert.Contains("--set data.source=AmazonFiles", noFile.Message);

            File.WriteAllText(Path.Combine(dir, "items.tsv"), "item\tcategory\nA\tbooks\nB\ttoys\n");
            File.WriteAllText(Path.Combine(dir, "interactions.tsv"), "user\titem\ttime\tlabel\nu1\tA\t10\t1\nu1\tB\t11\tyes\n");
            var badLabel = Assert.Throws<DataFileException>(() => AmazonCtrLoader.Load(dir));
            Assert.Equal(3, badLabel.Line);
            Assert.Contains("'label' = 'yes'", badLabel.Message);

            File.WriteAllText(Path.Combine(dir, "interactions.tsv"), "user\titem\ttime\tlabel\nu1\tZ\t10\t1\n");
            Assert.Contains("item 'Z' is not in items.tsv", Assert.Throws<DataFileException>(() => AmazonCtrLoader.Load(dir)).Message);

            File.WriteAllText(Path.Combine(dir, "interactions.tsv"), "user,item,time,label\n");
            var header = Assert.Throws<DataFileException>(() => AmazonCtrLoader.Load(dir));
            Assert.Equal(1, header.Line);
            Assert.Contains("expected 'user<TAB>item<TAB>time<TAB>label'", header.Message);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void BatchBuilderTakesMostRecentBehavioursFirstAndMasksPadding()
    {
        var d = SyntheticCtrGenerator.Generate(Small with { Users = 50 }, new Random(4));
        int i = Enumerable.Range(0, d.Impressions).First(k => d.ImpressionHistory[k] >= 3);
        int u = d.ImpressionUser[i];
        var builder = new CtrBatchBuilder(d, maxSequence: 200, TorchSharp.torch.CPU);
        var (inputs, labels) = builder.Build(new[] { i }, keepRecent: 2);
        var mask = inputs.HistoryMask.data<bool>().ToArray();
        Assert.Equal(new[] { true, true }, mask.Take(2));
        Assert.All(mask.Skip(2), Assert.False);
        var ids = inputs.History.select(-1, 0).data<long>().ToArray(); // item-id field
        Assert.Equal(d.Behaviours[u][^1], ids[0]);
        Assert.Equal(d.Behaviours[u][^2], ids[1]);
        Assert.Equal(d.Label[i] ? 1f : 0f, labels.item<float>());
    }
}
