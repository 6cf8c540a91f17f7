using MoeLab.Experiments.Runtime;
using MathNet.Numerics.Distributions;
using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.Random;
using MoeLab.Experiments.Papers.MoeContinualLearning;

namespace MoeLab.Experiments.Tests.Papers.MoeContinualLearning;

public class MoeContinualLearningSimulatorTests
{
    private static readonly TaskPoolConfig Fig2Pool = new();
    private static readonly TaskPoolConfig Fig45Pool = new TerminationStudyConfig().Pool;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ExpertUpdateSolvesItsTaskWithMinimumNormStep(bool fig45)
    {
        var config = fig45 ? Fig45Pool : Fig2Pool;
        var pool = TaskPool.Generate(config, RunRandom.Mersenne(3, 0));
        var stream = new TaskStream(pool, RunRandom.Mersenne(3, 1));
        var rng = new Random(5);
        for (int k = 0; k < 20; k++)
        {
            var round = stream.Next();
            var w = Enumerable.Range(0, config.Dimension).Select(_ => rng.NextDouble() - 0.5).ToArray();
            var before = (double[])w.Clone();
            MinNormUpdate.Apply(w, round.Features, round.Labels);
            var fitted = round.Features.TransposeThisAndMultiply(Vector<double>.Build.DenseOfArray(w)); // [s]
            Assert.True((fitted - round.Labels).L2Norm() <= 1e-9 * round.Labels.L2Norm() + 1e-12,
                $"Xᵀw − y = {(fitted - round.Labels).L2Norm():G3} after the update");
            // Minimum norm: the step lies in the column space of X (orthogonal to null(Xᵀ)).
            var step = Vector<double>.Build.DenseOfArray(w) - Vector<double>.Build.DenseOfArray(before);
            var svd = round.Features.Svd();
            int rank = svd.Rank;
            var colSpace = svd.U.SubMatrix(0, config.Dimension, 0, rank);
            var projected = colSpace * colSpace.TransposeThisAndMultiply(step);
            Assert.True((projected - step).L2Norm() <= 1e-9 * Math.Max(step.L2Norm(), 1e-12));
        }
    }

    [Fact]
    public void ExpertUpdateEqualsTheClosedFormOnFullRankFeatures()
    {
        var rng = new MersenneTwister(11, false);
        var x = Matrix<double>.Build.Random(10, 6, new Normal(0, 1, rng)); // [d, s]
        var y = Vector<double>.Build.Random(6, new Normal(0, 1, rng));     // [s]
        var w = Enumerable.Range(0, 10).Select(i => 0.1 * i).ToArray();
        var wv = Vector<double>.Build.DenseOfArray(w);
        var expected = wv + x * (x.TransposeThisAndMultiply(x)).Inverse() * (y - x.TransposeThisAndMultiply(wv));
        double norm = MinNormUpdate.Apply(w, x, y);
        for (int j = 0; j < 10; j++) Assert.Equal(expected[j], w[j], 10);
        Assert.Equal((expected - wv).L2Norm(), norm, 10);
    }

    [Theory]
    [InlineData(AuxiliaryGradientForm.OfficialCode)]
    [InlineData(AuxiliaryGradientForm.PaperLoss)]
    public void GateStepIsGradientDescentOnTheLossesCheckedByFiniteDifferences(AuxiliaryGradientForm form)
    {
        // Run a simulator for some rounds, then re-derive round t's gate update from the loss
        // definitions (written out here, not through GateMath's weights) by central differences.
        const int m = 4, warmup = 12;
        var gating = new GatingConfig { AuxiliaryGradient = form, Terminate = false };
        var pool = TaskPool.Generate(Fig2Pool, RunRandom.Mersenne(9, 0));
        var stream = new TaskStream(pool, RunRandom.Mersenne(9, 1));
        var sim = new MoeContinualLearningSimulator(pool, gating, m, RunRandom.Mersenne(9, 2));
        var noiseReplica = RunRandom.Mersenne(9, 2);
        var pastPi = new double[m];
        for (int t = 0; t < warmup; t++)
        {
            var r = stream.Next();
            var theta = sim.GateParameters.Select(v => (double[])v.Clone()).ToArray();
            var noise = Enumerable.Range(0, m).Select(_ => noiseReplica.NextDouble() * gating.NoiseBound).ToArray();
            var pi = GateMath.Softmax(GateMath.Outputs(theta, GateMath.ColumnSum(r.Features), noise));
            for (int k = 0; k < m; k++) pastPi[k] += pi[k];
            sim.Step(r);
        }
        var round = stream.Next();
        var thetaBefore = sim.GateParameters.Select(v => (double[])v.Clone()).ToArray();
        var expertsBefore = sim.ExpertModels.Select(v => (double[])v.Clone()).ToArray();
        var roundNoise = Enumerable.Range(0, m).Select(_ => noiseReplica.NextDouble() * gating.NoiseBound).ToArray();
        var rec = sim.Step(round);
        Assert.True(rec.GateUpdated);
        var deltaNorms = Enumerable.Range(0, m).Select(k =>
            Math.Sqrt(sim.ExpertModels[k].Zip(expertsBefore[k], (a, b) => (a - b) * (a - b)).Sum())).ToArray();
        Assert.Equal(rec.ExpertChangeNorm, deltaNorms[rec.Expert], 12);
        long tau = warmup + 1;
        var counts = sim.Load.ToArray();
        double[] xBar = GateMath.ColumnSum(round.Features);
        double Loss(double[][] theta)
        {
            var pi = GateMath.Softmax(GateMath.Outputs(theta, xBar, roundNoise));
            double locality = Enumerable.Range(0, m).Sum(k => pi[k] * deltaNorms[k]);   // Σ_m π_m ‖Δw_m‖
            double aux = form == AuxiliaryGradientForm.OfficialCode
                ? gating.AuxiliaryWeight * m / tau * pi[rec.Expert]
                : gating.AuxiliaryWeight * m * Enumerable.Range(0, m).Sum(k => (double)counts[k] / tau * (pastPi[k] + pi[k]) / tau);
            return locality + aux;
        }
        const double h = 1e-6;
        for (int k = 0; k < m; k++)
            for (int j = 0; j < xBar.Length; j++)
            {
                var plus = thetaBefore.Select(v => (double[])v.Clone()).ToArray(); plus[k][j] += h;
                var minus = thetaBefore.Select(v => (double[])v.Clone()).ToArray(); minus[k][j] -= h;
                double fd = (Loss(plus) - Loss(minus)) / (2 * h);
                double applied = (thetaBefore[k][j] - sim.GateParameters[k][j]) / gating.LearningRate;
                Assert.True(Math.Abs(fd - applied) <= 1e-6 * Math.Max(1.0, Math.Abs(fd)),
                    $"θ[{k},{j}]: finite difference {fd:G8}, applied gradient {applied:G8}");
            }
        // The check can fail: the gradient is not trivially zero.
        double maxChange = thetaBefore.Zip(sim.GateParameters).Max(p => p.First.Zip(p.Second).Max(q => Math.Abs(q.First - q.Second)));
        Assert.True(maxChange > 1e-8, $"gate moved by at most {maxChange:G3}");
    }

    [Fact]
    public void TerminationFreezesTheGateForGood()
    {
        // Γ = σ0^0 = 1 flags generously, so the gate freezes early (after the minimum rounds).
        var gating = new TerminationStudyConfig().Gating with { ThresholdExponent = 0.0 };
        var pool = TaskPool.Generate(Fig45Pool, RunRandom.Mersenne(21, 0));
        var stream = new TaskStream(pool, RunRandom.Mersenne(21, 1));
        var sim = new MoeContinualLearningSimulator(pool, gating, 5, RunRandom.Mersenne(21, 2));
        double[][]? frozen = null;
        bool movedBefore = false;
        for (int t = 0; t < 400; t++)
        {
            var before = sim.GateParameters.Select(v => (double[])v.Clone()).ToArray();
            var rec = sim.Step(stream.Next());
            bool moved = before.Zip(sim.GateParameters).Any(p => !p.First.SequenceEqual(p.Second));
            if (!sim.GateFrozen) { Assert.True(rec.GateUpdated); movedBefore |= moved; continue; }
            Assert.False(rec.GateUpdated);
            Assert.False(moved, $"θ changed at round {t} after freezing at {sim.TerminationRound}");
            frozen ??= before;
            Assert.True(frozen.Zip(sim.GateParameters).All(p => p.First.SequenceEqual(p.Second)));
        }
        Assert.True(movedBefore);
        Assert.NotNull(sim.TerminationRound);
        Assert.True(sim.TerminationRound >= Math.Max(sim.FirstFlagRound, sim.MinimumRounds));
        Assert.All(sim.Flags, Assert.True);
    }

    [Fact]
    public void WithoutTerminationTheGateNeverFreezes()
    {
        var gating = new TerminationStudyConfig().Gating with { ThresholdExponent = 0.0, Terminate = false };
        var pool = TaskPool.Generate(Fig45Pool, RunRandom.Mersenne(21, 0));
        var result = MoeContinualLearningRun.Simulate(pool, gating, 5, 300, RunRandom.Mersenne(21, 1), RunRandom.Mersenne(21, 2));
        Assert.Null(result.TerminationRound);
    }

    [Fact]
    public void SameSeedGivesSameCurvesAndAnotherSeedDoesNot()
    {
        var config = new ExpertCountStudyConfig { Experts = new[] { 1, 4 }, Rounds = 150, Repetitions = 2 };
        var a = MoeContinualLearningStudies.RunExpertCount(config, 42);
        var b = MoeContinualLearningStudies.RunExpertCount(config, 42);
        var c = MoeContinualLearningStudies.RunExpertCount(config, 43);
        for (int arm = 0; arm < 2; arm++)
            for (int rep = 0; rep < 2; rep++)
            {
                Assert.Equal(a.Arms[arm].Runs[rep].Forgetting, b.Arms[arm].Runs[rep].Forgetting);
                Assert.Equal(a.Arms[arm].Runs[rep].Generalisation, b.Arms[arm].Runs[rep].Generalisation);
                Assert.Equal(a.Arms[arm].Runs[rep].ExpertOfRound, b.Arms[arm].Runs[rep].ExpertOfRound);
            }
        Assert.NotEqual(a.Arms[1].Runs[0].Generalisation, c.Arms[1].Runs[0].Generalisation);
        // Common random numbers: both arms of a repetition see the same task sequence.
        Assert.Equal(a.Arms[0].Runs[1].TaskOfRound, a.Arms[1].Runs[1].TaskOfRound);
    }

    [Fact]
    public void PoolHasTheClusterStructureOfTheOfficialGenerator()
    {
        var pool = TaskPool.Generate(Fig2Pool, RunRandom.Mersenne(1, 0));
        Assert.Equal(7, pool.Count);
        for (int n = 0; n < pool.Count; n++)
        {
            Assert.All(pool.Truths[n].Skip(Fig2Pool.SupportDimension), x => Assert.Equal(0.0, x));
            Assert.Equal(6.0, Math.Sqrt(pool.Signals[n].Sum(x => x * x)), 10);
            if (n < 3) Assert.Equal(0.4, Math.Sqrt(pool.Truths[n].Sum(x => x * x)), 10);
        }
        // Within a cluster tasks are ~σ0/200·√r apart; across clusters ~σ0.
        double Dist(int p, int q) => Math.Sqrt(pool.Truths[p].Zip(pool.Truths[q], (x, y) => (x - y) * (x - y)).Sum());
        Assert.True(Dist(0, 3) < 0.02 && Dist(0, 6) < 0.03 && Dist(1, 4) < 0.02);
        Assert.True(Dist(0, 1) > 0.05 && Dist(1, 2) > 0.05);
    }
}

public class SimulationResultStatisticsTests
{
    [Fact]
    public void PuritySwitchesAndLastSwitchOnAHandMadeHistory()
    {
        // K = 3 clusters, N = 6 tasks (cluster = task mod 3), 2 experts, 6 rounds.
        var pool = TaskPool.Generate(new TaskPoolConfig { Tasks = 6 }, RunRandom.Mersenne(0, 0));
        var tasks = new[] { 0, 3, 1, 0, 4, 2 };      // clusters 0, 0, 1, 0, 1, 2
        var experts = new[] { 0, 0, 1, 0, 1, 1 };    // expert 0: c0 c0 c0; expert 1: c1 c1 c2
        var result = new SimulationResult(2, new double[6], new double[6], tasks, experts, new long[2, 6], new long[] { 3, 3 },
            null, 0, Array.Empty<double[]>(), Array.Empty<double[]>());
        Assert.Equal(5.0 / 6.0, result.ClusterPurity(pool), 12);   // expert 0: 3/3, expert 1: 2/3
        Assert.Equal(2.0 / 3.0, result.ClusterPurity(pool, fromRound: 3), 12); // rounds 3–5: e0 c0; e1 c1, c2 → (1 + 1)/3
        Assert.Equal(1, result.ClusterSwitches(pool));
        Assert.Equal(5, result.LastClusterSwitchRound(pool));
    }
}
