using System.Text.RegularExpressions;
using MoeLab.Experiments.Data;

namespace MoeLab.Experiments.Tests.Data;

public sealed class ArithmeticWordProblemsTests
{
    [Fact]
    public void SameSeedSameProblemsOtherSeedOtherProblems()
    {
        var a = ArithmeticWordProblems.Generate(300, ArithmeticSplit.Train, 5).Select(p => p.Text).ToList();
        var b = ArithmeticWordProblems.Generate(300, ArithmeticSplit.Train, 5).Select(p => p.Text).ToList();
        var c = ArithmeticWordProblems.Generate(300, ArithmeticSplit.Train, 6).Select(p => p.Text).ToList();
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.True(a.Distinct().Count() > 290, "problems should rarely repeat");
    }

    [Fact]
    public void SplitsStateDisjointNumbersAndNeverShareAQuestion()
    {
        var (train, heldOut) = ArithmeticWordProblems.Splits(3000, 1000, 9);
        Assert.Equal(3000, train.Count);
        Assert.Equal(1000, heldOut.Count);
        Assert.All(train, p => Assert.All(p.StatedNumbers, n => Assert.False(ArithmeticWordProblems.IsHeldOutNumber(n), $"train states held-out {n}: {p.Query}")));
        Assert.All(heldOut, p => Assert.All(p.StatedNumbers, n => Assert.True(ArithmeticWordProblems.IsHeldOutNumber(n), $"held-out states {n}: {p.Query}")));
        // the stated numbers are exactly the numbers in the question text
        foreach (var p in train.Take(200).Concat(heldOut.Take(200)))
            Assert.Equal(p.StatedNumbers.Order(), Regex.Matches(p.Query, @"\d+").Select(m => int.Parse(m.Value)).Order());
        Assert.Empty(train.Select(p => p.Query).Intersect(heldOut.Select(p => p.Query)));
        Assert.Equal(1000, heldOut.Select(p => p.Query).Distinct().Count());
        // every template appears in both splits; training cycles through them evenly (the held-out split
        // drops repeated questions, which thins templates with few held-out number combinations)
        var trainCounts = train.GroupBy(p => p.Template).Select(g => g.Count()).ToList();
        Assert.Equal(ArithmeticWordProblems.TemplateCount, trainCounts.Count);
        Assert.True(trainCounts.Max() - trainCounts.Min() <= 1, "templates cycle evenly");
        var heldOutCounts = heldOut.GroupBy(p => p.Template).Select(g => g.Count()).ToList();
        Assert.Equal(ArithmeticWordProblems.TemplateCount, heldOutCounts.Count);
        Assert.True(heldOutCounts.Min() >= 1000 / ArithmeticWordProblems.TemplateCount / 3, $"a template is rare in the held-out split: {string.Join(", ", heldOutCounts)}");
    }

    [Fact]
    public void WorkedSolutionsAreCorrectAndMultiStep()
    {
        var (train, heldOut) = ArithmeticWordProblems.Splits(1100, 550, 2);
        var step = new Regex(@"(\d+) ([-+*/]) (\d+) = (\d+)");
        foreach (var p in train.Concat(heldOut))
        {
            Assert.StartsWith("query : ", p.Text);
            Assert.Contains(" response : ", p.Text);
            Assert.EndsWith($"The answer is: {p.Answer}", p.Response);
            var steps = step.Matches(p.Response);
            Assert.True(steps.Count >= 2, $"expected ≥ 2 steps: {p.Response}");
            foreach (Match m in steps)
            {
                long x = long.Parse(m.Groups[1].Value), y = long.Parse(m.Groups[3].Value), z = long.Parse(m.Groups[4].Value);
                long expected = m.Groups[2].Value switch { "+" => x + y, "-" => x - y, "*" => x * y, _ => y == 0 || x % y != 0 ? -1 : x / y };
                Assert.True(expected == z, $"wrong step '{m.Value}' in: {p.Response}");
            }
            Assert.Equal(p.Answer, long.Parse(steps[^1].Groups[4].Value));
            Assert.True(p.Answer >= 0);
        }
    }

    [Fact]
    public void CorpusFromSplitsKeepsSplitsApartWithTrainVocabulary()
    {
        var corpus = BpeCorpus.FromSplits(["query : a b response : 1", "query : c response : 2"], ["query : a response : 2"], [], 4);
        Assert.Equal(BpeCorpus.Gpt2EndOfText, corpus.Gpt2Ids[corpus.Train[^1]]);
        Assert.Empty(corpus.Test);
        Assert.Equal(0, corpus.UnknownRate(corpus.Validation));
        Assert.Equal("query : a response : 2<|endoftext|>", corpus.Decode(corpus.Validation));
        Assert.Throws<ArgumentException>(() => BpeCorpus.FromSplits([], ["x"], [], 4));
    }
}
