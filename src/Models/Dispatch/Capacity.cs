using MoeLab.Models.Routing;
using static TorchSharp.torch;

namespace MoeLab.Models.Dispatch;

/// <summary>Expert capacity (Switch Transformer, Fedus et al. 2022, eq. 3 generalised to dynamic
/// routing): C = ⌈capacity_factor · A / N⌉ with A the number of chosen (token, expert) assignments
/// in the batch (T·k for top-k), at least 1. Assignments beyond C in an expert are dropped in
/// priority order: all first choices (slot 0) of all tokens in token order, then second choices,
/// and so on (GShard's order).</summary>
public static class Capacity
{
    public static long Compute(double capacityFactor, long assignments, int experts)
    {
        if (!(capacityFactor > 0)) throw new ArgumentException($"Capacity factor must be > 0, got {capacityFactor}.");
        return Math.Max(1, (long)Math.Ceiling(capacityFactor * assignments / experts));
    }
}
