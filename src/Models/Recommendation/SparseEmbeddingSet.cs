using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MoeLab.Models.Recommendation;

/// <summary>One embedding table per sparse categorical field; the field embeddings are concatenated.
/// ids [..., fields] (int64, field f in [0, cardinality_f)) → [..., fields · dim].</summary>
public sealed class SparseEmbeddingSet : nn.Module<Tensor, Tensor>
{
    private readonly ModuleList<Embedding> tables = new();

    public IReadOnlyList<long> Cardinalities { get; }
    public int Dim { get; }
    public int OutputSize => Cardinalities.Count * Dim;

    public SparseEmbeddingSet(IReadOnlyList<long> cardinalities, int dim, Device? device = null) : base("sparse_embeddings")
    {
        if (cardinalities.Count == 0) throw new ArgumentException("SparseEmbeddingSet needs at least one field.", nameof(cardinalities));
        for (int f = 0; f < cardinalities.Count; f++)
            if (cardinalities[f] < 1) throw new ArgumentException($"field {f} has cardinality {cardinalities[f]}; it must be ≥ 1.", nameof(cardinalities));
        if (dim < 1) throw new ArgumentOutOfRangeException(nameof(dim), dim, "embedding dim must be ≥ 1.");
        Cardinalities = cardinalities.ToArray();
        Dim = dim;
        foreach (long c in cardinalities) tables.Add(nn.Embedding(c, dim, device: device));
        RegisterComponents();
    }

    public override Tensor forward(Tensor ids)
    {
        if (ids.shape[^1] != Cardinalities.Count)
            throw new ArgumentException($"SparseEmbeddingSet: last dimension of ids is {ids.shape[^1]}, expected {Cardinalities.Count} fields.");
        var parts = new Tensor[Cardinalities.Count];
        for (int f = 0; f < parts.Length; f++)
            parts[f] = tables[f].forward(ids.select(-1, f)); // [..., dim]
        return cat(parts, -1); // [..., fields·dim]
    }
}
