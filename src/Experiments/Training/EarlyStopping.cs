namespace MoeLab.Experiments.Training;

/// <summary>Whether a smaller or a larger validation metric is better.</summary>
public enum MetricMode
{
    Min,
    Max,
}

/// <summary>Stops training when a validation metric has not improved by more than
/// <see cref="MinDelta"/> for <see cref="Patience"/> consecutive evaluations. Its state is a small
/// record (<see cref="State"/>) to store in a checkpoint so resumed runs stop at the same point.
/// Select models on validation metrics only, never on test.</summary>
public sealed class EarlyStopping
{
    public EarlyStopping(MetricMode mode, int patience, double minDelta = 0)
    {
        if (patience < 1) throw new ArgumentOutOfRangeException(nameof(patience), patience, "Patience must be at least 1 evaluation.");
        if (minDelta < 0) throw new ArgumentOutOfRangeException(nameof(minDelta), minDelta, "MinDelta must be ≥ 0.");
        Mode = mode;
        Patience = patience;
        MinDelta = minDelta;
    }

    public MetricMode Mode { get; }
    public int Patience { get; }
    public double MinDelta { get; }

    /// <summary>Best value so far (NaN before the first update).</summary>
    public double Best { get; private set; } = double.NaN;

    /// <summary>Step of the best value (-1 before the first update).</summary>
    public long BestStep { get; private set; } = -1;

    /// <summary>Evaluations since the last improvement.</summary>
    public int BadEvaluations { get; private set; }

    public bool ShouldStop => BadEvaluations >= Patience;

    /// <summary>Records one evaluation; returns true when it improved on the best (save the model
    /// then). A NaN value never improves.</summary>
    public bool Update(long step, double value)
    {
        bool improved = !double.IsNaN(value) && (BestStep < 0 || (Mode == MetricMode.Min
            ? value < Best - MinDelta
            : value > Best + MinDelta));
        if (improved)
        {
            Best = value;
            BestStep = step;
            BadEvaluations = 0;
        }
        else BadEvaluations++;
        return improved;
    }

    /// <summary>Serializable state for checkpoints.</summary>
    public sealed record StateRecord(double Best, long BestStep, int BadEvaluations);

    public StateRecord State => new(Best, BestStep, BadEvaluations);

    public void Restore(StateRecord state)
    {
        Best = state.Best;
        BestStep = state.BestStep;
        BadEvaluations = state.BadEvaluations;
    }
}
