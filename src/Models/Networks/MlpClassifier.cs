using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MoeLab.Models.Networks;

/// <summary>MLP classifier: flattened input → Linear(D_in, d) → L feed-forward blocks
/// (<see cref="FeedForwardStack"/>) → LayerNorm → Linear(d, classes). Parameters are created in
/// that order.</summary>
public sealed class MlpClassifier : nn.Module<Tensor, NetworkOutput>
{
    private readonly Linear input;
    private readonly FeedForwardStack stack;
    private readonly LayerNorm final;
    private readonly Linear head;

    public FeedForwardStack Stack => stack;

    public MlpClassifier(int inputFeatures, int classes, FeedForwardStackOptions stackOptions, Device? device = null)
        : base("mlp_classifier")
    {
        if (inputFeatures <= 0 || classes <= 0)
            throw new ArgumentException($"MlpClassifier: input features ({inputFeatures}) and classes ({classes}) must be positive.");
        input = nn.Linear(inputFeatures, stackOptions.Width, device: device);
        stack = new FeedForwardStack(stackOptions, device);
        final = nn.LayerNorm(stackOptions.Width, device: device);
        head = nn.Linear(stackOptions.Width, classes, device: device);
        RegisterComponents();
    }

    /// <summary>x [batch, D_in] → logits [batch, classes].</summary>
    public override NetworkOutput forward(Tensor x)
    {
        var h = input.forward(x);                                            // [batch, d]
        var s = stack.forward(h);                                            // [batch, d]
        var logits = head.forward(final.forward(s.Output));                 // [batch, classes]
        return s with { Output = logits };
    }
}
