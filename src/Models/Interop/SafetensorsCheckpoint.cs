using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace MoeLab.Models.Interop;

/// <summary>Model weights as <c>safetensors</c> files (the Hugging Face format: an 8-byte header length,
/// a JSON header of names, dtypes, shapes and byte offsets, then raw little-endian data), read and
/// written through TorchSharp.PyBridge. The tensor names are the module's <c>state_dict</c> keys
/// (<c>router.gate.weight</c>, <c>experts.w_in</c> [E, d, d_ff], <c>experts.w_out</c> [E, d_ff, d],
/// <c>shared.w_in</c>, <c>attention.query.weight</c> [out, in] like <c>torch.nn.Linear</c>, ...), so a
/// PyTorch module with the same attribute names loads them with <c>load_state_dict</c> and the other
/// way round. Tests check both directions against an independent PyTorch implementation
/// (tests/MoeLab.Models.Tests/Interop).</summary>
public static class SafetensorsCheckpoint
{
    /// <summary>Writes every parameter and buffer of <paramref name="module"/> (CPU copies, contiguous).</summary>
    public static void Save(nn.Module module, string path)
    {
        using var scope = NewDisposeScope();
        var state = new Dictionary<string, Tensor>();
        foreach (var (name, t) in module.state_dict()) state[name] = t.detach().cpu().contiguous();
        SaveTensors(path, state);
    }

    /// <summary>Writes named tensors (any names) to a safetensors file; the file is replaced atomically.</summary>
    public static void SaveTensors(string path, IReadOnlyDictionary<string, Tensor> tensors)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        var temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        using (var scope = NewDisposeScope())
        {
            var copy = tensors.ToDictionary(kv => kv.Key, kv => kv.Value.detach().cpu().contiguous());
            Safetensors.SaveStateDict(temporary, copy);
        }
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Reads every tensor of a safetensors file (CPU tensors; the caller owns them).</summary>
    public static Dictionary<string, Tensor> LoadTensors(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"safetensors file not found: {path}", path);
        try { return Safetensors.LoadStateDict(path); }
        catch (Exception e) when (e is not FileNotFoundException)
        {
            throw new InvalidDataException($"{path}: not a readable safetensors file ({e.Message}).", e);
        }
    }

    /// <summary>Copies the weights in <paramref name="path"/> into <paramref name="module"/>. Strict: every
    /// parameter and buffer of the module must be in the file with the same shape, and the file may hold
    /// no other tensor (the error lists what is missing, extra or of the wrong shape). Dtype and device are
    /// converted to the module's.</summary>
    public static void Load(nn.Module module, string path)
    {
        var loaded = LoadTensors(path);
        try
        {
            var state = module.state_dict();
            var missing = state.Keys.Where(k => !loaded.ContainsKey(k)).ToList();
            var extra = loaded.Keys.Where(k => !state.ContainsKey(k)).ToList();
            var wrongShape = state.Where(kv => loaded.TryGetValue(kv.Key, out var t) && !t.shape.SequenceEqual(kv.Value.shape))
                .Select(kv => $"{kv.Key}: file [{string.Join(", ", loaded[kv.Key].shape)}], module [{string.Join(", ", kv.Value.shape)}]")
                .ToList();
            if (missing.Count + extra.Count + wrongShape.Count > 0)
                throw new InvalidDataException($"{path} does not match the {module.GetName()} module:" +
                    (missing.Count > 0 ? $" missing {string.Join(", ", missing)};" : "") +
                    (extra.Count > 0 ? $" not in the module {string.Join(", ", extra)};" : "") +
                    (wrongShape.Count > 0 ? $" wrong shape {string.Join("; ", wrongShape)};" : ""));
            using var _ = torch.no_grad();
            foreach (var (name, target) in state)
                target.copy_(loaded[name].to(target.dtype, target.device));
        }
        finally
        {
            foreach (var t in loaded.Values) t.Dispose();
        }
    }
}
