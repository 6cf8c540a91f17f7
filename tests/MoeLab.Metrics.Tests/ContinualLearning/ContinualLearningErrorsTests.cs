using MoeLab.Metrics.ContinualLearning;

namespace MoeLab.Metrics.Tests.ContinualLearning;

public class ContinualLearningErrorsTests
{
    [Fact]
    public void HandComputedExample()
    {
        // Two experts in R^2, three rounds: tasks a, b, a routed to experts 0, 1, 0.
        double[] a = { 1, 0 }, b = { 0, 1 };
        var truths = new[] { a, b, a };
        var experts = new[] { new double[] { 1, 0.5 }, new double[] { 0, 0 } };
        var routing = new[] { 0, 1, 0 };
        var lossRightAfter = new[] { 0.25, 1.0, 0.25 };
        // G_3 = (0.25 + 1 + 0.25)/3; F_3 = ((0.25−0.25) + (1−1))/2.
        Assert.Equal(0.5, ContinualLearningErrors.Generalisation(experts, routing, truths), 12);
        Assert.Equal(0.0, ContinualLearningErrors.Forgetting(experts, routing, truths, lossRightAfter), 12);
        // Move expert 0 away: round 1 forgets 1.25 − 0.25 = 1 ⇒ F_3 = 1/2.
        experts[0] = new double[] { 0, 0.5 };
        Assert.Equal(0.5, ContinualLearningErrors.Forgetting(experts, routing, truths, new[] { 0.25, 1.0, 0.25 }), 12);
    }

    [Fact]
    public void TrackerMatchesDirectSumsOnARandomHistory()
    {
        var rng = new Random(7);
        const int m = 3, n = 5, d = 4, rounds = 60;
        var pool = Enumerable.Range(0, n).Select(_ => Enumerable.Range(0, d).Select(_ => rng.NextDouble()).ToArray()).ToArray();
        var experts = Enumerable.Range(0, m).Select(_ => new double[d]).ToArray();
        var tracker = new ContinualLearningErrorTracker(m, pool);
        var routing = new List<int>(); var truths = new List<double[]>(); var after = new List<double>();
        for (int t = 0; t < rounds; t++)
        {
            int e = rng.Next(m), k = rng.Next(n);
            for (int j = 0; j < d; j++) experts[e][j] += 0.5 * (pool[k][j] - experts[e][j]) + 0.1 * (rng.NextDouble() - 0.5);
            routing.Add(e); truths.Add(pool[k]); after.Add(ContinualLearningErrors.TaskLoss(experts[e], pool[k]));
            tracker.Record(e, k, experts[e]);
            var (f, g) = tracker.Evaluate(experts);
            Assert.Equal(ContinualLearningErrors.Generalisation(experts, routing, truths), g, 10);
            Assert.Equal(ContinualLearningErrors.Forgetting(experts, routing, truths, after), f, 10);
        }
    }

    [Fact]
    public void BadInputIsNamed()
    {
        var ex = Assert.Throws<ArgumentException>(() => ContinualLearningErrors.TaskLoss(new double[2], new double[3]));
        Assert.Contains("3", ex.Message);
    }
}
