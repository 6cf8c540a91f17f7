namespace MoeLab.Experiments.Data.Ctr;

/// <summary>Which part of a time split an impression belongs to.</summary>
public enum CtrSplit : byte
{
    Train,
    Validation,
    Test,
}

/// <summary>A click-through-rate data set in memory: users and items described by sparse categorical
/// fields, each user's behaviour sequence (item ids, oldest first), and impressions (user, item, label,
/// time, split). An impression sees the first <see cref="ImpressionHistory"/> behaviours of its user
/// (those before it in time). Field value 0 is a valid id, not padding; padding is a separate mask.</summary>
public sealed class CtrData
{
    /// <summary>Cardinality of each user field.</summary>
    public required long[] UserFieldCardinalities { get; init; }

    /// <summary>Cardinality of each item field (field 0 is the item id in both sources).</summary>
    public required long[] ItemFieldCardinalities { get; init; }

    /// <summary>Names of the user fields and item fields (for tables and error messages).</summary>
    public required string[] UserFieldNames { get; init; }
    public required string[] ItemFieldNames { get; init; }

    /// <summary>User field values, row-major [users, user fields].</summary>
    public required int[] UserFields { get; init; }

    /// <summary>Item field values, row-major [items, item fields].</summary>
    public required int[] ItemFields { get; init; }

    /// <summary>Behaviour sequence of each user: item ids, oldest first.</summary>
    public required int[][] Behaviours { get; init; }

    public required int[] ImpressionUser { get; init; }
    public required int[] ImpressionItem { get; init; }

    /// <summary>How many of the user's behaviours precede the impression (its true history length).</summary>
    public required int[] ImpressionHistory { get; init; }

    public required bool[] Label { get; init; }
    public required float[] Time { get; init; }
    public required CtrSplit[] Split { get; init; }

    /// <summary>The generator's latent persona of each user (synthetic data only; never a model input).</summary>
    public int[]? Persona { get; init; }

    public int Users => Behaviours.Length;
    public int Items => ItemFields.Length / ItemFieldCardinalities.Length;
    public int Impressions => ImpressionUser.Length;

    /// <summary>Indices of the impressions in <paramref name="split"/>, in impression order.</summary>
    public int[] IndicesOf(CtrSplit split)
    {
        var list = new List<int>();
        for (int i = 0; i < Split.Length; i++)
            if (Split[i] == split) list.Add(i);
        return list.ToArray();
    }

    /// <summary>Checks that every array has the right length and every id is within its field's
    /// cardinality; throws <see cref="InvalidDataException"/> naming the first problem.</summary>
    public void Validate(string source)
    {
        int fu = UserFieldCardinalities.Length, fi = ItemFieldCardinalities.Length;
        if (UserFields.Length != Users * fu) throw new InvalidDataException($"{source}: user fields hold {UserFields.Length} values, expected {Users} users × {fu} fields.");
        if (ItemFields.Length % fi != 0) throw new InvalidDataException($"{source}: item fields hold {ItemFields.Length} values, not a multiple of {fi} fields.");
        for (int i = 0; i < UserFields.Length; i++)
            if (UserFields[i] < 0 || UserFields[i] >= UserFieldCardinalities[i % fu])
                throw new InvalidDataException($"{source}: user {i / fu} field '{UserFieldNames[i % fu]}' = {UserFields[i]} is outside [0, {UserFieldCardinalities[i % fu]}).");
        for (int i = 0; i < ItemFields.Length; i++)
            if (ItemFields[i] < 0 || ItemFields[i] >= ItemFieldCardinalities[i % fi])
                throw new InvalidDataException($"{source}: item {i / fi} field '{ItemFieldNames[i % fi]}' = {ItemFields[i]} is outside [0, {ItemFieldCardinalities[i % fi]}).");
        int n = Impressions;
        if (ImpressionItem.Length != n || ImpressionHistory.Length != n || Label.Length != n || Time.Length != n || Split.Length != n)
            throw new InvalidDataException($"{source}: impression arrays differ in length.");
        for (int i = 0; i < n; i++)
        {
            int u = ImpressionUser[i];
            if (u < 0 || u >= Users) throw new InvalidDataException($"{source}: impression {i} has user {u}, outside [0, {Users}).");
            if (ImpressionItem[i] < 0 || ImpressionItem[i] >= Items) throw new InvalidDataException($"{source}: impression {i} has item {ImpressionItem[i]}, outside [0, {Items}).");
            if (ImpressionHistory[i] < 0 || ImpressionHistory[i] > Behaviours[u].Length)
                throw new InvalidDataException($"{source}: impression {i} sees {ImpressionHistory[i]} behaviours, user {u} has {Behaviours[u].Length}.");
        }
    }
}
