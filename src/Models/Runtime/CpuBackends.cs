using TorchSharp;

namespace MoeLab.Models.Runtime;

/// <summary>Keeps LibTorch's CPU operators off oneDNN (formerly MKL-DNN) and NNPACK, so that they run ATen's own
/// kernels (pinned by <c>ATEN_CPU_CAPABILITY</c>) and MKL (pinned by <c>MKL_CBWR</c>; see <see cref="DeterministicNumerics"/>).
/// <para>Why, two findings on the 2-core AMD EPYC (AVX-512) development VMs, LibTorch 2.10:</para>
/// <list type="number">
/// <item><b>Bits depend on the CPU.</b> With oneDNN enabled (LibTorch's default), float32 GELU and its backward and
/// every convolution run oneDNN kernels compiled for the best instruction set of the machine; the pins do not reach
/// them. GELU of the same 2M random values gave different bits with oneDNN's AVX-512 kernel and with its AVX2 kernel
/// (<c>ONEDNN_MAX_CPU_ISA=AVX2</c>: 373,678 of 2,097,152 values differ, by up to 4.8e-7), and a Seg-MoE smoke run
/// (GELU and convolutions) wrote different metrics under <c>ONEDNN_MAX_CPU_ISA=AVX2</c> in 3 of 3 seeds. With oneDNN
/// off, the same run gives the same bytes. NNPACK (the convolution fallback when oneDNN is off) would pick its own
/// kernels where it runs (it does not initialise on these VMs and printed a warning at every convolution).</item>
/// <item><b>Memory grows when shapes change.</b> oneDNN compiles and caches a primitive per tensor shape (up to 1,024):
/// each new shape leaves thousands of small allocations behind in the process heap. An MoE layer's expert blocks
/// change shape at every step (tokens per expert), so a DynaMoE training step left ≈ 9,000 small allocations behind in
/// GELU and as many in its backward; sitting between the step's large freed blocks, they kept glibc from reusing them
/// and the heap grew by 50–150 MiB per step. <c>moelab bench --train dynamoe-lm --preset cpu</c> (MoE arm), 5 runs
/// each, interleaved: oneDNN on 6.0k–11.4k tokens/s, peak RSS 2.1–2.9 GiB; off 22.7k–31.6k tokens/s, 0.8–0.96 GiB.</item>
/// </list>
/// <para>How: <c>at::globalContext().setUserEnabledMkldnn(false)</c> and <c>setUserEnabledNNPACK(false)</c> (what
/// <c>torch.backends.mkldnn.enabled = False</c> and <c>torch.backends.nnpack.set_flags(False)</c> do in PyTorch), called
/// through the exported C++ symbols of the libtorch_cpu library TorchSharp has loaded (TorchSharp 0.107 has no binding
/// for them). The settings are process-wide and read at each operator call. <c>MOELAB_ONEDNN=1</c> leaves LibTorch's
/// defaults (both on).</para>
/// <para>Cost: ATen's GELU is about as fast as oneDNN's (2M values, mean of 50 calls: 21.0 vs 19.6 ms, and 20.0 vs 19.8
/// ms in a second run). Convolutions fall back to im2col + GEMM per sample, which made Seg-MoE's cpu-preset training
/// steps ≈ 25 % slower until its forecaster computed them as matmuls (<see cref="Networks.ConvolutionsAsMatmuls"/>; now as
/// fast as with oneDNN; README, benchmark section).</para></summary>
public static class CpuBackends
{
    /// <summary>The environment variable that keeps oneDNN and NNPACK on (LibTorch's defaults) when set to 1.</summary>
    public const string Variable = "MOELAB_ONEDNN";

    /// <summary>True when the user asked to keep LibTorch's defaults (<c>MOELAB_ONEDNN=1</c>).</summary>
    public static bool Requested => Environment.GetEnvironmentVariable(Variable)?.Trim() is "1" or "on" or "true" or "yes";

    /// <summary>Whether LibTorch's CPU operators may use oneDNN now; null when that cannot be read (no libtorch_cpu in
    /// this process, another platform, or the symbols are not exported).</summary>
    public static bool? OneDnnEnabled => Api.Value is { } api ? api.GetMkldnn(api.Context()) != 0 : null;

    /// <summary>Whether LibTorch's CPU convolutions may use NNPACK now; null when that cannot be read.</summary>
    public static bool? NnpackEnabled => Api.Value is { } api ? api.GetNnpack(api.Context()) != 0 : null;

    /// <summary>Turns oneDNN and NNPACK off or on for the whole process (loads LibTorch when it is not loaded yet).
    /// Returns false when the switches are not available (then nothing changed).</summary>
    public static bool Set(bool enabled)
    {
        if (Api.Value is not { } api) return false;
        var context = api.Context();
        api.SetMkldnn(context, enabled ? (byte)1 : (byte)0);
        api.SetNnpack(context, enabled ? (byte)1 : (byte)0);
        return true;
    }

    private static readonly object Gate = new();
    private static volatile string? defaultState;

    /// <summary>Puts the process-wide default in force once: oneDNN and NNPACK off unless <c>MOELAB_ONEDNN=1</c> (loads
    /// LibTorch if needed). Returns the state in words: "off", "on (MOELAB_ONEDNN=1)" or "unavailable (why)". MoeLab calls
    /// it before its own modules compute anything (device resolution, the feed-forward activation, the patch forecaster,
    /// the numerics record of run manifests, the test assemblies) rather than when its assembly loads, so that commands
    /// which never touch a tensor (<c>moelab --help</c>, <c>report</c>, <c>table</c>) do not pay for loading LibTorch
    /// (≈ 0.8 s).</summary>
    public static string EnsureDefault()
    {
        if (defaultState is { } known) return known;
        lock (Gate)
        {
            return defaultState ??= Requested
                ? "on (MOELAB_ONEDNN=1)"
                : Set(false) ? "off" : "unavailable (" + (Api.Failure ?? "unknown reason") + ")";
        }
    }

    private sealed unsafe class Functions(IntPtr context, IntPtr setMkldnn, IntPtr getMkldnn, IntPtr setNnpack, IntPtr getNnpack)
    {
        public IntPtr Context() => ((delegate* unmanaged<IntPtr>)context)();
        public void SetMkldnn(IntPtr ctx, byte value) => ((delegate* unmanaged<IntPtr, byte, void>)setMkldnn)(ctx, value);
        public byte GetMkldnn(IntPtr ctx) => ((delegate* unmanaged<IntPtr, byte>)getMkldnn)(ctx);
        public void SetNnpack(IntPtr ctx, byte value) => ((delegate* unmanaged<IntPtr, byte, void>)setNnpack)(ctx, value);
        public byte GetNnpack(IntPtr ctx) => ((delegate* unmanaged<IntPtr, byte>)getNnpack)(ctx);
    }

    private static class Api
    {
        public static string? Failure;
        private static readonly Lazy<Functions?> lazy = new(Load);
        public static Functions? Value => lazy.Value;

        // Itanium C++ ABI names of at::globalContext() and at::Context's switches (this is the first argument).
        private static readonly string[] Symbols =
        [
            "_ZN2at13globalContextEv",
            "_ZN2at7Context20setUserEnabledMkldnnEb", "_ZNK2at7Context17userEnabledMkldnnEv",
            "_ZN2at7Context20setUserEnabledNNPACKEb", "_ZNK2at7Context17userEnabledNNPACKEv",
        ];

        private static Functions? Load()
        {
            var p = LibTorchSymbols.Find(Symbols, out Failure);
            return p is null ? null : new Functions(p[0], p[1], p[2], p[3], p[4]);
        }
    }
}
