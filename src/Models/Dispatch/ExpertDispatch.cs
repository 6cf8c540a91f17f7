using MoeLab.Models.Experts;
using MoeLab.Models.Routing;
using static TorchSharp.torch;

namespace MoeLab.Models.Dispatch;

/// <summary>The one place a layer chooses how its routed experts are computed: grouped (sorted by
/// expert, one matmul per expert block; the fast path) or reference (every expert on every token;
/// for equivalence tests), with the capacity factor and kernel of the layer's options.</summary>
public static class ExpertDispatch
{
    public static DispatchResult Run(ExpertBank bank, Tensor x, RoutingResult routing, DispatchMode mode, double? capacityFactor,
        GroupedKernel kernel) => mode == DispatchMode.Grouped
        ? GroupedDispatch.Run(bank, x, routing, capacityFactor, kernel)
        : ReferenceDispatch.Run(bank, x, routing, capacityFactor);
}
