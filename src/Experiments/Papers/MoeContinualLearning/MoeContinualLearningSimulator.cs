using MoeLab.Metrics.ContinualLearning;

namespace MoeLab.Experiments.Papers.MoeContinualLearning;

/// <summary>What happened in one round.</summary>
public sealed record RoundRecord(int Round, int Task, int Expert, double ExpertChangeNorm, bool GateUpdated,
    double Forgetting, double Generalisation);

/// <summary>Algorithm 1 of Li et al. (ICLR 2025) for M linear experts and a linear gate, one round
/// at a time (rounds are 0-based; τ = t + 1 rounds have been seen after round t):
/// <list type="number">
/// <item>h̃_m = θ_mᵀ x̄ + r_m, r_m ~ Uniform[0, λ]; m_t = argmax h̃; π = softmax(h̃).</item>
/// <item>Only expert m_t moves: min-norm update onto its task (<see cref="MinNormUpdate"/>).</item>
/// <item>Termination (when enabled): for t ≥ T1 = ⌈M/η⌉, every m ≠ m_t with |h̃_m − h̃_{m_t}| &lt; Γ
/// (Γ = σ0^x) is flagged (flags persist). Once all M experts are flagged and t ≥ the minimum
/// rounds, θ is frozen from this round on, for good.</item>
/// <item>Otherwise θ ← θ − η ∇(L^loc + L^aux) (<see cref="GateMath"/>).</item>
/// </list>
/// F_t and G_t (squared norms, <see cref="ContinualLearningErrors"/>) are evaluated after every round.</summary>
public sealed class MoeContinualLearningSimulator
{
    private readonly TaskPool _pool;
    private readonly GatingConfig _gating;
    private readonly Random _noiseRng;
    private readonly double[][] _experts;
    private readonly double[][] _gate;
    private readonly bool[] _flagged;
    private readonly long[] _routed;
    private readonly long[,] _assignment;
    private readonly ContinualLearningErrorTracker _tracker;

    public MoeContinualLearningSimulator(TaskPool pool, GatingConfig gating, int experts, Random noiseRng)
    {
        if (experts < 1) throw new ArgumentOutOfRangeException(nameof(experts), experts, "M must be ≥ 1");
        _pool = pool; _gating = gating; _noiseRng = noiseRng;
        int d = pool.Config.Dimension;
        _experts = Enumerable.Range(0, experts).Select(_ => new double[d]).ToArray();
        _gate = Enumerable.Range(0, experts).Select(_ => new double[d]).ToArray();
        _flagged = new bool[experts];
        _routed = new long[experts];
        _assignment = new long[experts, pool.Count];
        _tracker = new ContinualLearningErrorTracker(experts, pool.Truths);
        Threshold = Math.Pow(pool.Config.Sigma0, gating.ThresholdExponent);
        FirstFlagRound = (int)Math.Ceiling(experts / gating.LearningRate);
        MinimumRounds = gating.MinimumRoundsBase + gating.MinimumRoundsPerExpert * experts;
    }

    public int Experts => _experts.Length;

    /// <summary>Rounds played so far.</summary>
    public int Round { get; private set; }

    /// <summary>Γ = σ0^x.</summary>
    public double Threshold { get; }

    /// <summary>T1 = ⌈M/η⌉: first round at which experts can be flagged.</summary>
    public int FirstFlagRound { get; }

    /// <summary>Rounds before which θ never freezes (official code's rule; see <see cref="GatingConfig"/>).</summary>
    public int MinimumRounds { get; }

    /// <summary>Round (0-based) at which θ froze, or null while it still trains.</summary>
    public int? TerminationRound { get; private set; }

    public bool GateFrozen => TerminationRound.HasValue;

    /// <summary>Current expert models w^{(m)} (live arrays: do not modify).</summary>
    public IReadOnlyList<double[]> ExpertModels => _experts;

    /// <summary>Current gate parameters θ_m (live arrays: do not modify).</summary>
    public IReadOnlyList<double[]> GateParameters => _gate;

    public IReadOnlyList<bool> Flags => _flagged;

    /// <summary>Rounds routed to each expert.</summary>
    public IReadOnlyList<long> Load => _routed;

    /// <summary>Rounds of task n routed to expert m: [M, N].</summary>
    public long[,] Assignment => (long[,])_assignment.Clone();

    public RoundRecord Step(TaskRound round)
    {
        int mCount = _experts.Length, t = Round;
        double[] xBar = GateMath.ColumnSum(round.Features);                 // [d]
        var noise = new double[mCount];
        for (int m = 0; m < mCount; m++) noise[m] = _noiseRng.NextDouble() * _gating.NoiseBound;
        double[] noisy = GateMath.Outputs(_gate, xBar, noise);              // [M]
        double[] pi = GateMath.Softmax(noisy);                              // [M]
        int chosen = GateMath.ArgMax(noisy);

        double change = MinNormUpdate.Apply(_experts[chosen], round.Features, round.Labels);
        _routed[chosen]++;
        _assignment[chosen, round.Task]++;
        _tracker.Record(chosen, round.Task, _experts[chosen]);

        bool update = true;
        if (_gating.Terminate && !GateFrozen)
        {
            if (t >= FirstFlagRound)
                for (int m = 0; m < mCount; m++)
                    if (m != chosen && Math.Abs(noisy[m] - noisy[chosen]) < Threshold) _flagged[m] = true;
            if (t >= MinimumRounds && _flagged.All(f => f)) TerminationRound = t;
        }
        if (GateFrozen) update = false;
        if (update)
        {
            var weights = GateWeights(chosen, change, t + 1);
            var grad = GateMath.WeightedProbabilityGradient(pi, xBar, weights);
            for (int m = 0; m < mCount; m++)
                for (int j = 0; j < xBar.Length; j++) _gate[m][j] -= _gating.LearningRate * grad[m][j];
        }
        Round++;
        var (f, g) = _tracker.Evaluate(_experts);
        return new RoundRecord(t, round.Task, chosen, change, update, f, g);
    }

    /// <summary>a = locality + load-balancing weights of this round (see <see cref="GateMath"/>).</summary>
    public double[] GateWeights(int chosen, double expertChangeNorm, long rounds)
    {
        var a = GateMath.LocalityWeights(_experts.Length, chosen, expertChangeNorm);
        var b = GateMath.LoadBalancingWeights(_gating.AuxiliaryGradient, _gating.AuxiliaryWeight, chosen, _routed, rounds);
        for (int m = 0; m < a.Length; m++) a[m] += b[m];
        return a;
    }
}

/// <summary>Everything one simulated run (one arm, one repetition) produced.</summary>
public sealed record SimulationResult(
    int Experts,
    double[] Forgetting,         // F_t after round t (index t−1), t = 1..T
    double[] Generalisation,     // G_t
    int[] TaskOfRound,
    int[] ExpertOfRound,
    long[,] Assignment,          // [M, N]
    long[] Load,                 // [M]
    int? TerminationRound,
    int FlaggedAtEnd,            // experts flagged by the termination rule after the last round
    double[][] FinalExperts,
    double[][] FinalGate)
{
    /// <summary>Fraction of rounds whose expert's most frequent cluster (over the rounds in the
    /// window) is the task's cluster: 1 = every expert only ever served one cluster in the window.</summary>
    public double ClusterPurity(TaskPool pool, int fromRound = 0)
    {
        int k = pool.Config.Clusters, total = 0, pure = 0;
        var counts = new long[Experts, k];
        for (int t = fromRound; t < TaskOfRound.Length; t++) { counts[ExpertOfRound[t], pool.ClusterOf(TaskOfRound[t])]++; total++; }
        for (int m = 0; m < Experts; m++)
        {
            long best = 0;
            for (int c = 0; c < k; c++) best = Math.Max(best, counts[m, c]);
            pure += (int)best;
        }
        return total == 0 ? double.NaN : (double)pure / total;
    }

    /// <summary>Rounds in [from, T) at which an expert served a task of a different cluster than
    /// the previous task it served: how often specialisation is broken.</summary>
    public int ClusterSwitches(TaskPool pool, int fromRound = 0)
    {
        var last = new int[Experts];
        Array.Fill(last, -1);
        int switches = 0;
        for (int t = 0; t < TaskOfRound.Length; t++)
        {
            int m = ExpertOfRound[t], c = pool.ClusterOf(TaskOfRound[t]);
            if (t >= fromRound && last[m] >= 0 && last[m] != c) switches++;
            last[m] = c;
        }
        return switches;
    }

    /// <summary>Last round (0-based) at which some expert served a task of a different cluster than
    /// the previous task it served; −1 if that never happened. After it, routing respects clusters.</summary>
    public int LastClusterSwitchRound(TaskPool pool)
    {
        var last = new int[Experts];
        Array.Fill(last, -1);
        int lastSwitch = -1;
        for (int t = 0; t < TaskOfRound.Length; t++)
        {
            int m = ExpertOfRound[t], c = pool.ClusterOf(TaskOfRound[t]);
            if (last[m] >= 0 && last[m] != c) lastSwitch = t;
            last[m] = c;
        }
        return lastSwitch;
    }
}
