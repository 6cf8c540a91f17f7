using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MoeLab.Models.Optimization;

/// <summary>TorchSharp's SGD (momentum, Nesterov, L2 weight decay) with a step that keeps its scalar
/// arguments alive; see <see cref="GcSafeAdamW"/> for why. Same arithmetic as TorchSharp's, state
/// save/load and learning rate handled by TorchSharp.</summary>
public sealed class GcSafeSgd : SGD
{
    public GcSafeSgd(IEnumerable<Parameter> parameters, double lr, double momentum, double weightDecay, bool nesterov)
        : base(parameters, lr, momentum, dampening: 0, weight_decay: weightDecay, nesterov: nesterov, maximize: false)
    {
    }

    public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
    {
        var o = (Options)group.Options;
        double momentum = o.momentum!.Value, dampening = o.dampening!.Value, weightDecay = o.weight_decay!.Value;
        bool nesterov = o.nesterov!.Value;
        using Scalar decay = weightDecay.ToScalar(), momentumScalar = momentum.ToScalar();
        using Scalar oneMinusDampening = (1 - dampening).ToScalar(), minusLr = (-o.LearningRate!.Value).ToScalar();
        foreach (var param in group.Parameters)
        {
            var state = (State)_state[param.Handle];
            var grad = param.grad;
            if (grad is null) continue;
            if (weightDecay != 0) grad = grad.add(param, alpha: decay);
            if (momentum != 0)
            {
                var buffer = state.momentum_buffer;
                if (buffer is null)
                    state.momentum_buffer = buffer = grad.clone().detach().DetachFromDisposeScope();
                else
                    buffer.mul_(momentumScalar).add_(grad, alpha: oneMinusDampening);
                grad = nesterov ? grad.add(buffer, alpha: momentumScalar) : buffer;
            }
            param.add_(grad, alpha: minusLr);
        }
    }, closure);
}
