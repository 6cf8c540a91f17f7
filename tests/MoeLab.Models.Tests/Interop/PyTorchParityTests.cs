using System.Text.Json;
using MoeLab.Models.Experts;
using MoeLab.Models.Interop;
using MoeLab.Models.Layers;
using MoeLab.Models.Losses;
using MoeLab.Models.Routing;
using MoeLab.Models.Transformer;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLab.Models.Tests.Interop;

/// <summary>An independent framework checks our layers: MoeLab writes a layer's weights as
/// safetensors, PyTorch (Debian's python3-torch 1.13) loads them into the plain implementation in
/// <c>torch_reference.py</c> (every expert on every token, a dense gate matrix; written from the
/// definitions), feeds the same input and compares output, the four auxiliary losses and the
/// gradients of the input and of every parameter to 1e-5 (rtol = atol). The reverse direction:
/// PyTorch makes its own weights, saves them as safetensors with its own writer, MoeLab loads them
/// and must reproduce PyTorch's output and gradients.</summary>
public class PyTorchParityTests
{
    private const double Tolerance = 1e-5;
    private static readonly Dictionary<string, double> AuxWeights = new()
    {
        ["load_balancing"] = 0.3, ["router_z"] = 0.2, ["entropy"] = 0.1, ["sequence_balance"] = 0.05,
    };

    private static MoeLayerOptions Layer(ExpertKind kind, bool renormalize) => new()
    {
        DModel = 16, DHidden = 12, Experts = 6, Kind = kind, SharedExperts = 1, SharedHidden = 8,
        Router = new RouterOptions { Kind = RouterKind.TopK, K = 2, Renormalize = renormalize },
    };

    [PyTorchFact]
    public void MoeLayer_gelu_top2_shared_expert_matches_pytorch_both_ways() =>
        CheckBothWays(Layer(ExpertKind.Gelu, renormalize: false), block: false);

    [PyTorchFact]
    public void MoeLayer_swiglu_renormalised_top2_shared_expert_matches_pytorch_both_ways() =>
        CheckBothWays(Layer(ExpertKind.SwiGlu, renormalize: true), block: false);

    [PyTorchFact]
    public void DecoderBlock_with_moe_slot_matches_pytorch_both_ways() =>
        CheckBothWays(Layer(ExpertKind.SwiGlu, renormalize: true), block: true);

    private static nn.Module Create(MoeLayerOptions layer, bool block, long seed)
    {
        torch.manual_seed(seed);
        if (!block) return new MoeLayer(layer);
        var b = new DecoderBlock(new SelfAttentionOptions { DModel = layer.DModel, Heads = 4 }, layer.ForCausalModel());
        using var _ = torch.no_grad();
        b.AttentionNorm.Weight.copy_(torch.rand(layer.DModel).add(0.5));  // not all ones, so the gains are tested
        b.FeedForwardNorm.Weight.copy_(torch.rand(layer.DModel).add(0.5));
        return b;
    }

    private static (Tensor Y, AuxiliaryLossSet Losses) Forward(nn.Module module, Tensor x) => module switch
    {
        MoeLayer m => m.forward(x) is var o ? (o.Output, o.Losses) : default,
        DecoderBlock b => b.forward(x) is var o ? (o.Output, o.FeedForward.Losses) : default,
        _ => throw new ArgumentException(module.GetName()),
    };

    /// <summary>Output, losses and gradients of sum(y ⊙ upstream) + Σ α_j L_j, named as the script names them.</summary>
    private static Dictionary<string, Tensor> Results(nn.Module module, Tensor x, Tensor upstream)
    {
        module.zero_grad();
        var input = x.detach().clone().requires_grad_(true);
        var (y, losses) = Forward(module, input);
        var named = new Dictionary<string, Tensor>
        {
            ["loss.load_balancing"] = losses.LoadBalancing, ["loss.router_z"] = losses.RouterZ,
            ["loss.entropy"] = losses.Entropy, ["loss.sequence_balance"] = losses.SequenceBalance,
        };
        var objective = y.mul(upstream).sum();
        foreach (var (name, alpha) in AuxWeights) objective = objective.add(named["loss." + name].mul(alpha));
        objective.backward();
        var results = named.ToDictionary(kv => kv.Key, kv => kv.Value.detach().reshape(Array.Empty<long>()));
        results["output"] = y.detach();
        results["input_grad"] = input.grad!.detach().clone();
        foreach (var (name, p) in module.named_parameters())
        {
            Assert.True(p.grad is not null, $"{name} received no gradient");
            results["grad." + name] = p.grad!.detach().clone();
        }
        return results;
    }

    private static void CheckBothWays(MoeLayerOptions layer, bool block)
    {
        var dir = Directory.CreateTempSubdirectory("moelab-torch-parity-").FullName;
        try
        {
            var module = Create(layer, block, seed: 11);
            var g = new torch.Generator(5);
            var x = torch.randn(new long[] { 2, 7, layer.DModel }, generator: g);        // [B, T, d]: two sequences
            var upstream = torch.randn(new long[] { 2, 7, layer.DModel }, generator: g); // dL/dy
            SafetensorsCheckpoint.Save(module, Path.Combine(dir, "weights.safetensors"));
            SafetensorsCheckpoint.SaveTensors(Path.Combine(dir, "inputs.safetensors"), new Dictionary<string, Tensor> { ["x"] = x, ["upstream"] = upstream });
            var ours = Results(module, x, upstream);
            Assert.True(ours["input_grad"].abs().max().item<float>() > 0, "zero input gradient: nothing would be compared");
            SafetensorsCheckpoint.SaveTensors(Path.Combine(dir, "results.safetensors"), ours);
            var config = new Dictionary<string, object>
            {
                ["module"] = block ? "block" : "layer", ["d"] = layer.DModel, ["d_ff"] = layer.DHidden, ["experts"] = layer.Experts,
                ["k"] = layer.Router.K, ["renormalize"] = layer.Router.Renormalize, ["kind"] = layer.Kind.ToString(),
                ["shared_hidden"] = layer.SharedExperts * (layer.SharedHidden ?? layer.DHidden), ["heads"] = 4,
                ["rotary_base"] = 10_000.0, ["eps"] = 1e-6, ["aux_weights"] = AuxWeights, ["tolerance"] = Tolerance, ["seed"] = 3,
            };
            File.WriteAllText(Path.Combine(dir, "config.json"), JsonSerializer.Serialize(config));
            var script = Path.Combine(AppContext.BaseDirectory, "Interop", "torch_reference.py");

            // MoeLab → PyTorch: the script loads our weights, recomputes and compares.
            var (code, output) = PyTorch.Run(TimeSpan.FromSeconds(180), script, "check", dir);
            Assert.True(code == 0, $"PyTorch disagrees with MoeLab (exit {code}):\n{output}");
            Assert.Contains($"{ours.Count} quantities compared, 0 mismatches", output);

            // PyTorch → MoeLab: PyTorch's own weights, loaded into a fresh module (other seed).
            (code, output) = PyTorch.Run(TimeSpan.FromSeconds(180), script, "produce", dir);
            Assert.True(code == 0, $"the PyTorch script failed (exit {code}):\n{output}");
            var fresh = Create(layer, block, seed: 12);
            var before = Results(fresh, x, upstream)["output"];
            SafetensorsCheckpoint.Load(fresh, Path.Combine(dir, "pytorch-weights.safetensors"));
            var theirs = SafetensorsCheckpoint.LoadTensors(Path.Combine(dir, "pytorch-results.safetensors"));
            var loaded = Results(fresh, x, upstream);
            Assert.Equal(theirs.Keys.OrderBy(k => k), loaded.Keys.OrderBy(k => k));
            Assert.False(torch.allclose(before, theirs["output"], Tolerance, Tolerance), "the fresh module already matched: loading was not tested");
            foreach (var (name, expected) in theirs)
                TestSupport.Close(expected, loaded[name], atol: Tolerance, rtol: Tolerance, what: $"PyTorch → MoeLab {name}");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
