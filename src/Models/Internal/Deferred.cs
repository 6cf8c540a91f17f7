using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Models.Internal;

/// <summary>A value made of tensors that is computed on first use instead of when it is declared (an MoE layer's
/// diagnostics: the auxiliary losses nobody weights, the routing statistics nobody logs this step). Computed as it
/// would have been at declaration: under the gradient mode that was on then, and the resulting tensors are owned
/// by the dispose scope that was current then (intermediates are disposed at once). Thread-safe; computed at most
/// once. Inputs must not be changed in place in between (routing tensors never are).</summary>
internal sealed class Deferred<T> where T : class
{
    private readonly Lazy<T> value;

    private Deferred(Lazy<T> value) => this.value = value;

    /// <summary>A value already computed.</summary>
    public static Deferred<T> Ready(T value) => new(new Lazy<T>(value));

    /// <param name="compute">makes the value.</param>
    /// <param name="tensorsOf">the tensors of a value that outlive the computation.</param>
    public static Deferred<T> Of(Func<T> compute, Func<T, IEnumerable<Tensor>> tensorsOf)
    {
        bool grad = torch.is_grad_enabled();
        var owner = torch.CurrentDisposeScope;
        return new(new Lazy<T>(() =>
        {
            using var mode = torch.set_grad_enabled(grad);
            using var scope = torch.NewDisposeScope();
            var result = compute();
            var keep = tensorsOf(result).ToArray();
            if (owner is not null) scope.MoveToOther(owner, keep);
            else scope.Detach(keep);
            return result;
        }, LazyThreadSafetyMode.ExecutionAndPublication));
    }

    /// <summary>True once the value exists (it was ready, or something asked for it).</summary>
    public bool IsComputed => value.IsValueCreated;

    public T Value => value.Value;
}
