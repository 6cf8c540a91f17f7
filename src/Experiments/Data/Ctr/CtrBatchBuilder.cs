using MoeLab.Models.Recommendation;
using static TorchSharp.torch;

namespace MoeLab.Experiments.Data.Ctr;

/// <summary>Turns impressions of a <see cref="CtrData"/> into <see cref="CtrInputs"/> tensors: each
/// impression's visible history is the most recent min(history, maxSequence) behaviours before it,
/// most recent first, right-padded with item 0 and a false mask.</summary>
public sealed class CtrBatchBuilder
{
    private readonly CtrData data;
    private readonly Tensor userTable, itemTable; // [users, Fu], [items, Fi] int64
    private readonly Device device;

    public int MaxSequence { get; }

    public CtrBatchBuilder(CtrData data, int maxSequence, Device device)
    {
        if (maxSequence < 1) throw new ArgumentOutOfRangeException(nameof(maxSequence), maxSequence, "maxSequence must be ≥ 1.");
        this.data = data;
        this.device = device;
        MaxSequence = maxSequence;
        userTable = tensor(data.UserFields.Select(v => (long)v).ToArray(), new long[] { data.Users, data.UserFieldCardinalities.Length }, device: device);
        itemTable = tensor(data.ItemFields.Select(v => (long)v).ToArray(), new long[] { data.Items, data.ItemFieldCardinalities.Length }, device: device);
    }

    /// <summary>Inputs and labels [B] (float 0/1) of the given impressions. <paramref name="keepRecent"/>
    /// (optional) truncates every visible history further to its most recent N behaviours.</summary>
    public (CtrInputs Inputs, Tensor Labels) Build(ReadOnlySpan<int> impressions, int? keepRecent = null)
    {
        int b = impressions.Length, t = MaxSequence;
        var users = new long[b];
        var items = new long[b];
        var labels = new float[b];
        var history = new long[b * t];
        var mask = new bool[b * t];
        for (int r = 0; r < b; r++)
        {
            int i = impressions[r];
            int u = data.ImpressionUser[i];
            users[r] = u;
            items[r] = data.ImpressionItem[i];
            labels[r] = data.Label[i] ? 1f : 0f;
            int seen = data.ImpressionHistory[i];
            int n = Math.Min(seen, keepRecent is int k ? Math.Min(k, t) : t);
            var seq = data.Behaviours[u];
            for (int j = 0; j < n; j++)
            {
                history[r * t + j] = seq[seen - 1 - j];
                mask[r * t + j] = true;
            }
        }
        var ids = tensor(history, device: device);                                               // [B·T]
        var inputs = new CtrInputs(
            userTable.index_select(0, tensor(users, device: device)),                            // [B, Fu]
            itemTable.index_select(0, tensor(items, device: device)),                            // [B, Fi]
            itemTable.index_select(0, ids).reshape(b, t, -1),                                    // [B, T, Fi]
            tensor(mask, device: device).reshape(b, t));                                         // [B, T]
        return (inputs, tensor(labels, device: device));
    }
}
