using TorchSharp;

namespace MoeLab.Experiments.Training;

/// <summary>Saves and restores the state of torch's global CPU generator (the stream behind
/// <c>torch.randn_like</c> in router noise, dropout masks and any other torch randomness drawn
/// during training), so that a resumed run continues the same stream. The state is LibTorch's own
/// byte layout (Philox/MT19937 state of the CPU generator) written as raw bytes.
/// <para>CUDA: the CUDA generators' states are not captured (TorchSharp 0.107 does not expose them);
/// a GPU run that draws torch randomness during training resumes statistically, not bitwise.</para></summary>
public static class TorchRandomState
{
    /// <summary>Writes the global CPU generator's state to <paramref name="path"/>.</summary>
    public static void Save(string path)
    {
        using var state = torch.Generator.Default.get_state(); // [bytes] uint8
        File.WriteAllBytes(path, state.data<byte>().ToArray());
    }

    /// <summary>Sets the global CPU generator to the state stored at <paramref name="path"/>.</summary>
    public static void Restore(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length == 0) throw new InvalidDataException($"{path}: empty generator state.");
        using var state = torch.tensor(bytes, torch.uint8); // [bytes]
        torch.Generator.Default.set_state(state);
    }
}
