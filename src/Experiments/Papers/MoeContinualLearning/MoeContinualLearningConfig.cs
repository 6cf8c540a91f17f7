namespace MoeLab.Experiments.Papers.MoeContinualLearning;

/// <summary>The task pool and the feature generator of Li et al., "Theory on Mixture-of-Experts in
/// Continual Learning" (ICLR 2025, arXiv 2406.16437), as implemented by the official scripts
/// (github.com/LiHongbo97/MoE-in-CL). Defaults: <c>fig2_forgetting_error.py</c>.
///
/// Ground truths: for k &lt; K, w_k = σ0·g/‖g‖ on the first r coordinates (g ~ N(0, I_r));
/// for n ≥ K, w_n = w_{n−K} + (σ0·<see cref="ClusterPerturbation"/>)·N(0, I_r), so task n belongs
/// to cluster n mod K. Signal v_n = <see cref="SignalNorm"/>·w_n/‖w_n‖.
/// Features X_t ∈ R^{d×s}: each column's first r coordinates are <see cref="NoiseColumnNorm"/>·g/‖g‖;
/// one uniformly chosen column is replaced by v_{n_t}; rows j ≥ r are copies of rows j−r scaled
/// by <see cref="TailRowScale"/>·N(0,1) (by <see cref="TailRowScaleAtSignalOffset"/>·N(0,1) when
/// j−r equals the signal column's index, as the official scripts do). Labels y_t = X_tᵀ w_{n_t},
/// no label noise.</summary>
public sealed record TaskPoolConfig
{
    /// <summary>d, feature dimension. Official code, fig 2 and figs 4–5: 10.</summary>
    public int Dimension { get; init; } = 10;

    /// <summary>r, number of leading coordinates carrying ground truths and features (d ≤ 2r).
    /// Official code: 6.</summary>
    public int SupportDimension { get; init; } = 6;

    /// <summary>s, samples (columns of X_t) per task. Official code: 6 (fig 2), 8 (figs 4–5).</summary>
    public int Samples { get; init; } = 6;

    /// <summary>N, number of ground-truth tasks. Official code: 7 (fig 2), 30 (figs 4–5).</summary>
    public int Tasks { get; init; } = 7;

    /// <summary>K, number of task clusters. Official code: 3.</summary>
    public int Clusters { get; init; } = 3;

    /// <summary>σ0, norm of the cluster centres. Paper and official code: 0.4.</summary>
    public double Sigma0 { get; init; } = 0.4;

    /// <summary>Within-cluster perturbation scale as a fraction of σ0. Official code: 1/200 (fig 2),
    /// 1/100 (figs 4–5).</summary>
    public double ClusterPerturbation { get; init; } = 1.0 / 200;

    /// <summary>‖v_n‖, norm of the signal column. Official code: 6 (fig 2), 5 (figs 4–5).</summary>
    public double SignalNorm { get; init; } = 6.0;

    /// <summary>Norm of the noise columns' first r coordinates. Official code: 0.1 (fig 2), 0.01 (figs 4–5).</summary>
    public double NoiseColumnNorm { get; init; } = 0.1;

    /// <summary>Scale of the tail rows j ≥ r (copies of rows j−r times N(0,1)). Official code: 0.001.</summary>
    public double TailRowScale { get; init; } = 1e-3;

    /// <summary>Tail-row scale when j−r equals the signal column index (official code's rule, as
    /// written there): 1e-5 (fig 2), 1e-4 (figs 4–5).</summary>
    public double TailRowScaleAtSignalOffset { get; init; } = 1e-5;
}

/// <summary>How the gradient of the load-balancing loss reaches the gate.</summary>
public enum AuxiliaryGradientForm
{
    /// <summary>What <c>fig2_forgetting_error.py</c> applies: the gradient of
    /// (αM/τ)·π_{m_t}, i.e. the load-balancing loss with this round's routing indicator in place of
    /// f and only this round's probability in P (τ = rounds so far, including this one).</summary>
    OfficialCode,

    /// <summary>The gradient of the paper's L^aux = αM Σ_m f_m P_m, f_m = (1/τ)Σ_τ' 1{m_τ' = m},
    /// P_m = (1/τ)Σ_τ' π_m(τ'), through this round's probabilities (earlier rounds' π were computed
    /// with earlier gates and are constants).</summary>
    PaperLoss,
}

/// <summary>Gate (router) training and termination, Algorithm 1 of the paper as implemented by the
/// official scripts. Defaults: fig 2.</summary>
public sealed record GatingConfig
{
    /// <summary>η, gate learning rate. Paper/official code: 0.5 (η = O(σ0^0.5)).</summary>
    public double LearningRate { get; init; } = 0.5;

    /// <summary>λ, routing noise bound: r_t^{(m)} ~ Uniform[0, λ]. Official code: 0.3 (fig 2),
    /// σ0 = 0.4 (figs 4–5).</summary>
    public double NoiseBound { get; init; } = 0.3;

    /// <summary>α, weight of the load-balancing loss. Official code: 0.5.</summary>
    public double AuxiliaryWeight { get; init; } = 0.5;

    /// <summary>Which gradient of the load-balancing loss is applied (see enum). Default: what the
    /// official code applies.</summary>
    public AuxiliaryGradientForm AuxiliaryGradient { get; init; } = AuxiliaryGradientForm.OfficialCode;

    /// <summary>Whether the termination rule runs at all (false = the gate trains every round:
    /// the "without termination" arm).</summary>
    public bool Terminate { get; init; } = true;

    /// <summary>x in Γ = σ0^x, the flagging threshold. Paper: Γ = O(σ0^1.25); official fig-2 code: 1.25.</summary>
    public double ThresholdExponent { get; init; } = 1.25;

    /// <summary>Minimum number of rounds before the gate may freeze = base + perExpert·M. Not in the
    /// paper's Algorithm 1: the official code forces 80 + 3M (fig 2) and 120 (figs 4–5). Fixed per
    /// study, never tuned per M.</summary>
    public int MinimumRoundsBase { get; init; } = 80;

    /// <summary>See <see cref="MinimumRoundsBase"/>. Official code: 3 (fig 2), 0 (figs 4–5).</summary>
    public int MinimumRoundsPerExpert { get; init; } = 3;
}

/// <summary>Fig 2 of the paper: forgetting and generalisation error vs rounds for several numbers
/// of experts (M = 1 is the single-expert baseline).</summary>
public sealed record ExpertCountStudyConfig
{
    /// <summary>Whether this study runs.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>Numbers of experts compared. Paper fig 2: 1, 5, 10, 20.</summary>
    public int[] Experts { get; init; } = { 1, 5, 10, 20 };

    /// <summary>T, rounds (task arrivals). Paper fig 2: 2000.</summary>
    public int Rounds { get; init; } = 2000;

    /// <summary>Simulation repetitions inside one run (each a fresh pool, task sequence, features and
    /// routing noise derived from the run seed). The official fig-2 script runs once; we average ≥ 20.</summary>
    public int Repetitions { get; init; } = 20;

    /// <summary>Task pool and features. Default: fig 2 of the official code.</summary>
    public TaskPoolConfig Pool { get; init; } = new();

    /// <summary>Gate training. Default: fig 2 of the official code.</summary>
    public GatingConfig Gating { get; init; } = new();
}

/// <summary>Figs 4–5 of the paper: termination thresholds Γ = σ0^x and termination on vs off.</summary>
public sealed record TerminationStudyConfig
{
    /// <summary>Whether this study runs.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>M. Official figs 4–5 script: 5.</summary>
    public int Experts { get; init; } = 5;

    /// <summary>T. Official figs 4–5 script: 500.</summary>
    public int Rounds { get; init; } = 500;

    /// <summary>Repetitions averaged. Official figs 4–5 script: 100.</summary>
    public int Repetitions { get; init; } = 100;

    /// <summary>x values of Γ = σ0^x. Paper figs 4–5: 0.75, 1, 1.25, 1.5.</summary>
    public double[] ThresholdExponents { get; init; } = { 0.75, 1.0, 1.25, 1.5 };

    /// <summary>Adds the arm without termination (the gate trains every round). Our addition to
    /// show the paper's claim that termination is needed.</summary>
    public bool IncludeNoTermination { get; init; } = true;

    /// <summary>Task pool. Official figs 4–5 script: N = 30 (3 clusters × 10), s = 8, perturbation
    /// σ0/100, signal norm 5, noise columns 0.01, tail scale at the signal offset 1e-4.</summary>
    public TaskPoolConfig Pool { get; init; } = new()
    {
        Samples = 8, Tasks = 30, ClusterPerturbation = 1.0 / 100, SignalNorm = 5.0,
        NoiseColumnNorm = 0.01, TailRowScaleAtSignalOffset = 1e-4,
    };

    /// <summary>Gate. Official figs 4–5 script: λ = σ0 = 0.4, α = η = 0.5, minimum 120 rounds.
    /// The exponent field is overridden per arm by <see cref="ThresholdExponents"/>.</summary>
    public GatingConfig Gating { get; init; } = new()
    {
        NoiseBound = 0.4, MinimumRoundsBase = 120, MinimumRoundsPerExpert = 0,
    };
}

/// <summary>Config of the <c>moe-continual-learning</c> experiment. Exact numerical simulation
/// (MathNet.Numerics, no neural network): both studies run inside one run, each over
/// <c>Repetitions</c> seeded repetitions derived from the run seed.
///
/// Deviations from the official scripts, all deliberate: (1) forgetting/generalisation use squared
/// norms and the paper's normalisation (<see cref="MoeLab.Metrics.ContinualLearning.ContinualLearningErrors"/>);
/// (2) the figs 4–5 script's hand-coded routing override (late rounds re-route a task to the expert
/// that last served its cluster) is not part of the algorithm and is not implemented; (3) the
/// figs 4–5 script drops the softmax-derivative factors from the gate gradient — we use the exact
/// gradient of the losses (the fig-2 script's form) in both studies; (4) every repetition draws a
/// fresh task pool (the scripts draw one pool per script run); (5) all arms of a repetition see the
/// same pool, task sequence and features (common random numbers).</summary>
public sealed record MoeContinualLearningConfig
{
    /// <summary>Fig 2 study (number of experts).</summary>
    public ExpertCountStudyConfig ExpertCount { get; init; } = new();

    /// <summary>Figs 4–5 study (termination threshold, termination on/off).</summary>
    public TerminationStudyConfig Termination { get; init; } = new();

    /// <summary>Curves are logged and plotted every this many rounds (final values are always exact).
    /// Our choice, to keep metrics.csv small.</summary>
    public int CurveStride { get; init; } = 10;
}
