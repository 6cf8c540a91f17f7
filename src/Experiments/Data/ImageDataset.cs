namespace MoeLab.Experiments.Data;

/// <summary>An in-memory labelled image set: pixels as floats in [0, 1], row-major
/// (channel, row, column) per example, and integer class labels.</summary>
public sealed class ImageDataset
{
    /// <summary>Pixels, <c>Count × FeatureCount</c>, scaled to [0, 1].</summary>
    public float[] Pixels { get; }
    public int[] Labels { get; }
    public int Channels { get; }
    public int Height { get; }
    public int Width { get; }
    public int ClassCount { get; }
    /// <summary>Where the examples came from (file or description), for logs and errors.</summary>
    public string Source { get; }

    public int Count => Labels.Length;
    public int FeatureCount => Channels * Height * Width;

    public ImageDataset(float[] pixels, int[] labels, int channels, int height, int width, int classCount, string source)
    {
        if (channels <= 0 || height <= 0 || width <= 0)
            throw new ArgumentException($"{source}: image shape must be positive, got {channels}×{height}×{width}.");
        if (pixels.Length != (long)labels.Length * channels * height * width)
            throw new ArgumentException(
                $"{source}: {pixels.Length} pixel values do not match {labels.Length} examples of {channels}×{height}×{width}.");
        for (int i = 0; i < labels.Length; i++)
            if (labels[i] < 0 || labels[i] >= classCount)
                throw new ArgumentException($"{source}: label {labels[i]} of example {i} is outside 0..{classCount - 1}.");
        Pixels = pixels; Labels = labels; Channels = channels; Height = height; Width = width;
        ClassCount = classCount; Source = source;
    }

    /// <summary>The examples at <paramref name="indices"/>, in that order.</summary>
    public ImageDataset Subset(IReadOnlyList<int> indices, string? source = null)
    {
        int d = FeatureCount;
        var pixels = new float[(long)indices.Count * d];
        var labels = new int[indices.Count];
        for (int i = 0; i < indices.Count; i++)
        {
            int j = indices[i];
            if (j < 0 || j >= Count) throw new ArgumentOutOfRangeException(nameof(indices), $"index {j} outside 0..{Count - 1}");
            Array.Copy(Pixels, (long)j * d, pixels, (long)i * d, d);
            labels[i] = Labels[j];
        }
        return new ImageDataset(pixels, labels, Channels, Height, Width, ClassCount, source ?? Source);
    }

    /// <summary>The first <paramref name="count"/> examples (all when count ≥ Count or ≤ 0).</summary>
    public ImageDataset Take(int count) =>
        count <= 0 || count >= Count ? this : Subset(Enumerable.Range(0, count).ToArray(), $"{Source} (first {count})");

    /// <summary>Seeded split of this (training) set into train and validation parts; validation
    /// holds <paramref name="validationFraction"/> of the examples (at least one of each part).
    /// The same seed gives the same split. The test set is never passed here.</summary>
    public (ImageDataset Train, ImageDataset Validation) SplitTrainValidation(double validationFraction, long seed)
    {
        if (validationFraction <= 0 || validationFraction >= 1)
            throw new ArgumentOutOfRangeException(nameof(validationFraction), $"validation fraction {validationFraction} must be in (0, 1).");
        if (Count < 2) throw new InvalidOperationException($"{Source}: need at least 2 examples to split, have {Count}.");
        int[] order = SeededPermutation(Count, seed);
        int nVal = Math.Clamp((int)Math.Round(Count * validationFraction), 1, Count - 1);
        return (Subset(order[nVal..], $"{Source} [train split]"), Subset(order[..nVal], $"{Source} [validation split]"));
    }

    /// <summary>Fisher–Yates permutation of 0..n−1 driven by <paramref name="seed"/>.</summary>
    public static int[] SeededPermutation(int n, long seed)
    {
        var rng = new Random(unchecked((int)(seed ^ (seed >> 32)) ^ 0x5EED));
        var order = Enumerable.Range(0, n).ToArray();
        for (int i = n - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }
}
