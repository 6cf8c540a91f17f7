namespace MoeLab.Metrics.ContinualLearning;

/// <summary>Forgetting and generalisation error of continual learning with (one or several) linear
/// experts, as used by the MoE-in-CL reproduction (Li et al., ICLR 2025, arXiv 2406.16437).
///
/// <para><b>The one definition used everywhere in MoeLab (squared norms).</b> Round i (1-based)
/// brings task n_i with ground truth w_{n_i}; it is routed to expert m_i, whose model after the
/// update of round i is w_i^{(m_i)}. The model error of a parameter vector on round i's task is
/// L_i(w) = ‖w − w_{n_i}‖²₂ (the paper's model error; squared norm). After T rounds:</para>
/// <list type="bullet">
/// <item>forgetting F_T = (1/(T−1)) Σ_{i=1}^{T−1} [ L_i(w_T^{(m_i)}) − L_i(w_i^{(m_i)}) ]
/// (F_1 := 0; no absolute value, so "backward transfer" shows up as negative terms);</item>
/// <item>generalisation error G_T = (1/T) Σ_{i=1}^{T} L_i(w_T^{(m_i)}).</item>
/// </list>
/// <para>The official scripts use non-squared norms, an absolute value inside F and off-by-one
/// normalisations (sums to t−1 divided by t); we do not. Numbers are therefore on a different
/// scale from the paper's figures (squares of distances), but the comparisons between arms are
/// what we reproduce.</para></summary>
public static class ContinualLearningErrors
{
    /// <summary>L(w) = ‖w − wTrue‖²₂, the model error on one task.</summary>
    public static double TaskLoss(ReadOnlySpan<double> w, ReadOnlySpan<double> wTrue)
    {
        if (w.Length != wTrue.Length)
            throw new ArgumentException($"model has {w.Length} coordinates, ground truth has {wTrue.Length}");
        double sum = 0;
        for (int j = 0; j < w.Length; j++) { double e = w[j] - wTrue[j]; sum += e * e; }
        return sum;
    }

    /// <summary>Reference (direct, O(T·d)) generalisation error G_T.</summary>
    /// <param name="finalExperts">w_T^{(m)} for every expert m.</param>
    /// <param name="expertOfRound">m_i for i = 1..T (0-based array).</param>
    /// <param name="truthOfRound">w_{n_i} for i = 1..T.</param>
    public static double Generalisation(IReadOnlyList<double[]> finalExperts, IReadOnlyList<int> expertOfRound,
        IReadOnlyList<double[]> truthOfRound)
    {
        int t = CheckLengths(expertOfRound, truthOfRound);
        if (t == 0) throw new ArgumentException("generalisation error needs at least one round");
        double sum = 0;
        for (int i = 0; i < t; i++) sum += TaskLoss(finalExperts[expertOfRound[i]], truthOfRound[i]);
        return sum / t;
    }

    /// <summary>Reference (direct, O(T·d)) forgetting F_T.</summary>
    /// <param name="lossRightAfter">L_i(w_i^{(m_i)}) for i = 1..T: each task's loss just after its own round.</param>
    public static double Forgetting(IReadOnlyList<double[]> finalExperts, IReadOnlyList<int> expertOfRound,
        IReadOnlyList<double[]> truthOfRound, IReadOnlyList<double> lossRightAfter)
    {
        int t = CheckLengths(expertOfRound, truthOfRound);
        if (lossRightAfter.Count != t)
            throw new ArgumentException($"lossRightAfter has {lossRightAfter.Count} entries, expected {t}");
        if (t <= 1) return 0.0;
        double sum = 0;
        for (int i = 0; i < t - 1; i++)
            sum += TaskLoss(finalExperts[expertOfRound[i]], truthOfRound[i]) - lossRightAfter[i];
        return sum / (t - 1);
    }

    private static int CheckLengths(IReadOnlyList<int> expertOfRound, IReadOnlyList<double[]> truthOfRound)
    {
        if (expertOfRound.Count != truthOfRound.Count)
            throw new ArgumentException($"expertOfRound has {expertOfRound.Count} entries, truthOfRound {truthOfRound.Count}");
        return expertOfRound.Count;
    }
}

/// <summary>Incremental F_t and G_t (definitions in <see cref="ContinualLearningErrors"/>) for a
/// finite task pool: keeps, per (expert, task) pair, how many past rounds routed that task to that
/// expert, so each round costs O(M·N·d) instead of O(t·d).</summary>
public sealed class ContinualLearningErrorTracker
{
    private readonly double[][] _truths;
    private readonly long[,] _counts;          // [expert, task] rounds so far
    private double _sumLossRightAfter;         // Σ_i L_i(w_i^{(m_i)}) over recorded rounds
    private int _lastExpert = -1, _lastTask = -1;
    private double _lastLossRightAfter;

    public ContinualLearningErrorTracker(int experts, IReadOnlyList<double[]> taskTruths)
    {
        if (experts < 1) throw new ArgumentOutOfRangeException(nameof(experts), experts, "need at least one expert");
        if (taskTruths.Count < 1) throw new ArgumentException("task pool is empty", nameof(taskTruths));
        _truths = taskTruths.Select(w => (double[])w.Clone()).ToArray();
        _counts = new long[experts, _truths.Length];
    }

    /// <summary>Rounds recorded so far (t).</summary>
    public int Rounds { get; private set; }

    /// <summary>Records round t: task <paramref name="task"/> went to <paramref name="expert"/>,
    /// whose model after this round's update is <paramref name="expertAfterUpdate"/>.</summary>
    public void Record(int expert, int task, ReadOnlySpan<double> expertAfterUpdate)
    {
        _lastLossRightAfter = ContinualLearningErrors.TaskLoss(expertAfterUpdate, _truths[task]);
        _sumLossRightAfter += _lastLossRightAfter;
        _counts[expert, task]++;
        _lastExpert = expert; _lastTask = task;
        Rounds++;
    }

    /// <summary>(F_t, G_t) with all experts' current models <paramref name="experts"/> = w_t^{(m)}.</summary>
    public (double Forgetting, double Generalisation) Evaluate(IReadOnlyList<double[]> experts)
    {
        if (Rounds == 0) throw new InvalidOperationException("no round recorded yet");
        int m = _counts.GetLength(0), n = _counts.GetLength(1);
        if (experts.Count != m) throw new ArgumentException($"expected {m} expert models, got {experts.Count}");
        double all = 0;
        for (int e = 0; e < m; e++)
            for (int k = 0; k < n; k++)
                if (_counts[e, k] != 0) all += _counts[e, k] * ContinualLearningErrors.TaskLoss(experts[e], _truths[k]);
        double generalisation = all / Rounds;
        if (Rounds == 1) return (0.0, generalisation);
        // Forgetting sums over rounds 1..t−1: remove round t's own term from both sums.
        double lastNow = ContinualLearningErrors.TaskLoss(experts[_lastExpert], _truths[_lastTask]);
        double forgetting = ((all - lastNow) - (_sumLossRightAfter - _lastLossRightAfter)) / (Rounds - 1);
        return (forgetting, generalisation);
    }
}
