using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MoeLab.Models.Optimization;

/// <summary>TorchSharp's AdamW with a step that keeps its scalar arguments alive.
/// <para>Why: in TorchSharp 0.107 the optimisers pass numbers to LibTorch as <see cref="Scalar"/>
/// objects created implicitly for each call (<c>addcmul_(g, g, value: 1 - β2)</c>); only the native
/// handle is passed on, so a garbage collection triggered by another thread during the native call
/// can run the Scalar's finaliser and free it while LibTorch reads it. Measured here: 3,000 AdamW
/// steps with another thread forcing collections gave 11 failures ("Expected false to be true" from
/// <c>Scalar::toFloat</c>) inside a dispose scope and a crashed process without one; a parallel test
/// run hit it once. This step holds every Scalar in a local that is disposed after the group's
/// update, so none can be collected early.</para>
/// <para>The arithmetic is AdamW's (decoupled weight decay; bias-corrected moments), operation for
/// operation as TorchSharp does it, so results are bit-identical (tested); state save/load and
/// learning-rate handling are TorchSharp's own.</para></summary>
public sealed class GcSafeAdamW : AdamW
{
    public GcSafeAdamW(IEnumerable<Parameter> parameters, double lr, double beta1, double beta2, double eps, double weightDecay)
        : base(parameters, lr, beta1, beta2, eps, weightDecay, amsgrad: false, maximize: false)
    {
    }

    public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
    {
        var o = (Options)group.Options;
        double beta1 = o.beta1!.Value, beta2 = o.beta2!.Value, eps = o.eps!.Value, weightDecay = o.weight_decay!.Value;
        double lr = o.LearningRate!.Value;
        using Scalar decay = (1 - lr * weightDecay).ToScalar();
        using Scalar beta1Scalar = beta1.ToScalar(), oneMinusBeta1 = (1 - beta1).ToScalar();
        using Scalar beta2Scalar = beta2.ToScalar(), oneMinusBeta2 = (1 - beta2).ToScalar();
        using Scalar epsScalar = eps.ToScalar();
        foreach (var param in group.Parameters)
        {
            var state = (State)_state[param.Handle];
            var grad = param.grad;
            if (grad is null) continue;
            state.step += 1;
            double biasCorrection1 = 1 - Math.Pow(beta1, state.step);
            double biasCorrection2 = 1 - Math.Pow(beta2, state.step);
            using Scalar sqrtCorrection2 = Math.Sqrt(biasCorrection2).ToScalar();
            using Scalar stepSize = (-(lr / biasCorrection1)).ToScalar();
            param.mul_(decay);
            state.exp_avg.mul_(beta1Scalar).add_(grad, alpha: oneMinusBeta1);
            state.exp_avg_sq.mul_(beta2Scalar).addcmul_(grad, grad, value: oneMinusBeta2);
            var denom = state.exp_avg_sq.sqrt().div_(sqrtCorrection2).add_(epsScalar); // disposed by the step's scope
            param.addcdiv_(state.exp_avg, denom, value: stepSize);
        }
    }, closure);
}
