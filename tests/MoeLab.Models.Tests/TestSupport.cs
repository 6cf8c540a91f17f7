using MoeLab.Models.Layers;
using TorchSharp;
using static TorchSharp.torch;

// Tests seed torch's global generator; running them in parallel would interleave draws.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace MoeLab.Models.Tests;

internal static class TestSupport
{
    /// <summary>Every tensor in these tests is tiny: one intra-op thread avoids OpenMP hand-offs, which
    /// cost milliseconds per op when the 2-core machines are oversubscribed.</summary>
    [System.Runtime.CompilerServices.ModuleInitializer]
    internal static void SingleThreaded() => torch.set_num_threads(1);

    public static float[] ToArray(Tensor t) => t.detach().cpu().to(float32).contiguous().data<float>().ToArray();
    public static long[] ToLongs(Tensor t) => t.detach().cpu().to(int64).contiguous().data<long>().ToArray();
    public static bool[] ToBools(Tensor t) => t.detach().cpu().contiguous().data<bool>().ToArray();

    public static void Close(Tensor expected, Tensor actual, double atol = 1e-5, double rtol = 1e-4, string what = "")
    {
        Assert.Equal(expected.shape, actual.shape);
        var e = ToArray(expected);
        var a = ToArray(actual);
        for (int i = 0; i < e.Length; i++)
        {
            double tol = atol + rtol * Math.Abs(e[i]);
            if (Math.Abs(e[i] - a[i]) > tol)
                Assert.Fail($"{what}: element {i} differs: expected {e[i]}, got {a[i]} (tolerance {tol}).");
        }
    }

    /// <summary>What <see cref="LayerPass"/> returns, in order.</summary>
    public static readonly string[] LayerPassNames = { "output", "input gradient", "W_in gradient", "W_out gradient", "router gradient" };

    /// <summary>One forward and backward of ⟨layer(x), upstream⟩: the output, x's gradient, W_in's, W_out's and the
    /// router gate's (x must require grad).</summary>
    public static Tensor[] LayerPass(MoeLayer layer, Tensor x, Tensor upstream)
    {
        var y = layer.forward(x).Output;
        y.mul(upstream).sum().backward();
        return new[] { y.detach(), x.grad!, layer.Experts.InputWeight.grad!, layer.Experts.OutputWeight.grad!, layer.Router.GateWeight.grad! };
    }

    /// <summary>Every tensor of two <see cref="LayerPass"/> results equal bit for bit.</summary>
    public static void SameBits(Tensor[] expected, Tensor[] actual, string what)
    {
        for (int i = 0; i < LayerPassNames.Length; i++)
            Assert.True(ToArray(expected[i]).SequenceEqual(ToArray(actual[i])), $"{LayerPassNames[i]} differs {what}");
    }

    /// <summary>Logits whose softmax is exactly the given probabilities (up to float rounding).</summary>
    public static Tensor LogitsOf(float[,] probabilities)
    {
        int rows = probabilities.GetLength(0), cols = probabilities.GetLength(1);
        var flat = new float[rows * cols];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                flat[r * cols + c] = MathF.Log(probabilities[r, c]);
        return torch.tensor(flat).reshape(rows, cols);
    }
}
