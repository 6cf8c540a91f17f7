using MathNet.Numerics.Distributions;
using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.Random;

namespace MoeLab.Experiments.Papers.MoeContinualLearning;

/// <summary>The pool of ground-truth tasks (see <see cref="TaskPoolConfig"/> for the generator).</summary>
public sealed class TaskPool
{
    private TaskPool(TaskPoolConfig config, double[][] truths, double[][] signals)
    {
        Config = config; Truths = truths; Signals = signals;
    }

    public TaskPoolConfig Config { get; }

    /// <summary>w_n ∈ R^d, zero beyond the first r coordinates.</summary>
    public IReadOnlyList<double[]> Truths { get; }

    /// <summary>v_n = ‖v‖·w_n/‖w_n‖.</summary>
    public IReadOnlyList<double[]> Signals { get; }

    public int Count => Truths.Count;

    /// <summary>Cluster of task n: n mod K (task n ≥ K perturbs task n−K).</summary>
    public int ClusterOf(int task) => task % Config.Clusters;

    public static TaskPool Generate(TaskPoolConfig config, Random rng)
    {
        int d = config.Dimension, r = config.SupportDimension;
        var truths = new double[config.Tasks][];
        var signals = new double[config.Tasks][];
        for (int n = 0; n < config.Tasks; n++)
        {
            var w = new double[d];
            if (n < config.Clusters)
            {
                var g = Gaussian(rng, r);
                double norm = Norm(g);
                for (int j = 0; j < r; j++) w[j] = config.Sigma0 * g[j] / norm;
            }
            else
            {
                double scale = config.Sigma0 * config.ClusterPerturbation;
                for (int j = 0; j < r; j++) w[j] = truths[n - config.Clusters][j] + scale * Normal.Sample(rng, 0, 1);
            }
            double wn = Norm(w);
            truths[n] = w;
            signals[n] = w.Select(x => config.SignalNorm * x / wn).ToArray();
        }
        return new TaskPool(config, truths, signals);
    }

    /// <summary>X_t ∈ R^{d×s} for task <paramref name="task"/>, drawn from <paramref name="rng"/>.</summary>
    public Matrix<double> Features(int task, Random rng)
    {
        int d = Config.Dimension, r = Config.SupportDimension, s = Config.Samples;
        var x = Matrix<double>.Build.Dense(d, s); // [d, s]
        for (int i = 0; i < s; i++)
        {
            var g = Gaussian(rng, r);
            double norm = Norm(g);
            for (int j = 0; j < r; j++) x[j, i] = Config.NoiseColumnNorm * g[j] / norm;
        }
        int signalColumn = rng.Next(s);
        for (int j = 0; j < d; j++) x[j, signalColumn] = Signals[task][j];
        for (int j = r; j < d; j++)
        {
            double scale = (j - r == signalColumn ? Config.TailRowScaleAtSignalOffset : Config.TailRowScale) * Normal.Sample(rng, 0, 1);
            for (int i = 0; i < s; i++) x[j, i] = x[j - r, i] * scale;
        }
        return x;
    }

    private static double[] Gaussian(Random rng, int n)
    {
        var g = new double[n];
        for (int j = 0; j < n; j++) g[j] = Normal.Sample(rng, 0, 1);
        return g;
    }

    private static double Norm(double[] v) => Math.Sqrt(v.Sum(x => x * x));
}

/// <summary>One round's task: its index, features X_t [d, s] and labels y_t = X_tᵀ w_{n_t} [s].</summary>
public sealed record TaskRound(int Task, Matrix<double> Features, Vector<double> Labels);

/// <summary>The sequence of task arrivals of one repetition: n_t ~ Uniform[N] and X_t, from one
/// seeded stream that does not depend on routing, so every arm of a repetition sees the same rounds.</summary>
public sealed class TaskStream
{
    private readonly TaskPool _pool;
    private readonly Random _rng;

    public TaskStream(TaskPool pool, Random rng) { _pool = pool; _rng = rng; }

    public TaskRound Next()
    {
        int task = _rng.Next(_pool.Count);
        var x = _pool.Features(task, _rng);
        var y = x.TransposeThisAndMultiply(Vector<double>.Build.DenseOfArray(_pool.Truths[task])); // [s]
        return new TaskRound(task, x, y);
    }
}
