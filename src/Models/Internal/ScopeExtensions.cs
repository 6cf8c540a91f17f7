using TorchSharp;

namespace MoeLab.Models.Internal;

internal static class ScopeExtensions
{
    /// <summary>Moves each tensor created inside <paramref name="scope"/> to the enclosing scope so it
    /// survives the local scope; tensors owned elsewhere (e.g. the caller's inputs) are left alone.</summary>
    public static void Keep(this DisposeScope scope, params torch.Tensor[] tensors)
    {
        foreach (var t in tensors.Distinct())
            if (scope.Contains(t)) scope.MoveToOuter(t);
    }
}
