using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Experiments.Training;

/// <summary>Which learning-rate schedule a config asks for.</summary>
public enum ScheduleKind
{
    /// <summary>The peak rate throughout.</summary>
    Constant,

    /// <summary>Linear warm-up, then cosine decay to the minimum (e.g. GPT-style training).</summary>
    WarmupCosine,

    /// <summary>Warm-up, stable plateau, then linear decay over the last fraction of steps
    /// ("WSD", e.g. MiniCPM, Hu et al. 2024).</summary>
    WarmupStableDecay,
}

/// <summary>A learning-rate schedule as a pure function of the step: the rate is recomputed from
/// the step alone, so a resumed run needs no scheduler state. <see cref="Apply"/> sets it on an
/// optimiser; <see cref="ToTorchScheduler"/> wraps it as a TorchSharp LambdaLR for code that
/// prefers <c>scheduler.step()</c>.</summary>
public abstract record LrSchedule(double PeakLr)
{
    /// <summary>Learning rate at <paramref name="step"/> (0-based).</summary>
    public abstract double At(long step);

    /// <summary>Sets the rate for <paramref name="step"/> on every parameter group; returns it.</summary>
    public double Apply(optim.Optimizer optimizer, long step)
    {
        double lr = At(step);
        Optimizers.SetLearningRate(optimizer, lr);
        return lr;
    }

    /// <summary>A TorchSharp LambdaLR whose factor is At(step)/PeakLr (the optimiser must be
    /// created with lr = PeakLr). Its step counter lives in the scheduler: on resume, call
    /// step() as many times as steps were done, or prefer <see cref="Apply"/>.</summary>
    public optim.lr_scheduler.LRScheduler ToTorchScheduler(optim.Optimizer optimizer) =>
        optim.lr_scheduler.LambdaLR(optimizer, step => PeakLr == 0 ? 0 : At(step) / PeakLr);

    public static LrSchedule Create(ScheduleKind kind, double peakLr, long totalSteps, long warmupSteps = 0,
        double minLr = 0, double decayFraction = 0.2) => kind switch
    {
        ScheduleKind.Constant => new ConstantSchedule(peakLr),
        ScheduleKind.WarmupCosine => new WarmupCosineSchedule(peakLr, warmupSteps, totalSteps, minLr),
        ScheduleKind.WarmupStableDecay => new WarmupStableDecaySchedule(peakLr, warmupSteps, totalSteps, decayFraction, minLr),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown schedule."),
    };

    protected static double Warmup(double peak, long step, long warmupSteps) =>
        peak * (step + 1) / (double)warmupSteps;
}

public sealed record ConstantSchedule(double PeakLr) : LrSchedule(PeakLr)
{
    public override double At(long step) => PeakLr;
}

/// <summary>Linear warm-up over <paramref name="WarmupSteps"/> steps (rate (s+1)/W · peak), then
/// cosine from peak at step W to <paramref name="MinLr"/> at step <paramref name="TotalSteps"/>;
/// MinLr after that.</summary>
public sealed record WarmupCosineSchedule(double PeakLr, long WarmupSteps, long TotalSteps, double MinLr = 0) : LrSchedule(PeakLr)
{
    public override double At(long step)
    {
        if (step < WarmupSteps) return Warmup(PeakLr, step, WarmupSteps);
        if (step >= TotalSteps || TotalSteps <= WarmupSteps) return step >= TotalSteps ? MinLr : PeakLr;
        double progress = (step - WarmupSteps) / (double)(TotalSteps - WarmupSteps); // 0 → 1
        return MinLr + 0.5 * (PeakLr - MinLr) * (1 + Math.Cos(Math.PI * progress));
    }
}

/// <summary>Warm-up, then the peak rate until the last <paramref name="DecayFraction"/> of
/// <paramref name="TotalSteps"/>, then linear decay to <paramref name="MinLr"/>.</summary>
public sealed record WarmupStableDecaySchedule(double PeakLr, long WarmupSteps, long TotalSteps, double DecayFraction = 0.2, double MinLr = 0)
    : LrSchedule(PeakLr)
{
    public long DecayStart => Math.Max(WarmupSteps, TotalSteps - (long)Math.Round(DecayFraction * TotalSteps));

    public override double At(long step)
    {
        if (step < WarmupSteps) return Warmup(PeakLr, step, WarmupSteps);
        if (step < DecayStart) return PeakLr;
        if (step >= TotalSteps) return MinLr;
        double progress = (step - DecayStart) / (double)(TotalSteps - DecayStart); // 0 → 1
        return PeakLr + (MinLr - PeakLr) * progress;
    }
}
