using MoeLab.Experiments.Data;

namespace MoeLab.Experiments.Tests.Data;

public sealed class IdxReaderTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("moelab-idx-").FullName;
    public void Dispose() => Directory.Delete(dir, recursive: true);

    private (byte[] images, byte[] labels) WriteSet(string suffix, int n, int rows, int cols)
    {
        var images = new byte[n * rows * cols];
        for (int i = 0; i < images.Length; i++) images[i] = (byte)(i * 7 % 256);
        var labels = Enumerable.Range(0, n).Select(i => (byte)(i % 10)).ToArray();
        IdxReader.Write(Path.Combine(dir, "train-images-idx3-ubyte" + suffix), [n, rows, cols], images);
        IdxReader.Write(Path.Combine(dir, "train-labels-idx1-ubyte" + suffix), [n], labels);
        return (images, labels);
    }

    [Theory]
    [InlineData(".gz")]
    [InlineData("")]
    public void ReadsGeneratedImagesAndLabels(string suffix)
    {
        var (images, labels) = WriteSet(suffix, n: 5, rows: 3, cols: 4);
        var ds = IdxReader.ReadImages(Path.Combine(dir, "train-images-idx3-ubyte" + suffix), Path.Combine(dir, "train-labels-idx1-ubyte" + suffix));
        Assert.Equal(5, ds.Count);
        Assert.Equal((1, 3, 4), (ds.Channels, ds.Height, ds.Width));
        Assert.Equal(labels.Select(b => (int)b), ds.Labels);
        // pixel (example 2, row 1, col 3) = byte at 2·12 + 1·4 + 3
        Assert.Equal(images[2 * 12 + 1 * 4 + 3] / 255f, ds.Pixels[2 * 12 + 7]);
        Assert.InRange(ds.Pixels.Max(), 0f, 1f);
    }

    [Fact]
    public void LimitKeepsFirstExamples()
    {
        var (_, labels) = WriteSet(".gz", n: 8, rows: 2, cols: 2);
        var ds = IdxReader.ReadImages(Path.Combine(dir, "train-images-idx3-ubyte.gz"), Path.Combine(dir, "train-labels-idx1-ubyte.gz"), limit: 3);
        Assert.Equal(labels.Take(3).Select(b => (int)b), ds.Labels);
    }

    [Fact]
    public void TruncatedFileIsAClearError()
    {
        string path = Path.Combine(dir, "bad-idx");
        File.WriteAllBytes(path, [0, 0, 8, 1, 0, 0, 0, 10, 1, 2, 3]); // says 10 bytes, has 3
        var e = Assert.Throws<InvalidDataException>(() => IdxReader.Read(path));
        Assert.Contains("bad-idx", e.Message);
        Assert.Contains("ends early", e.Message);
    }

    [Fact]
    public void WrongMagicIsAClearError()
    {
        string path = Path.Combine(dir, "not-idx");
        File.WriteAllBytes(path, [0x50, 0x4B, 3, 4, 0, 0]);
        Assert.Contains("not an IDX file", Assert.Throws<InvalidDataException>(() => IdxReader.Read(path)).Message);
    }

    [Fact]
    public void MismatchedCountsAreAnError()
    {
        IdxReader.Write(Path.Combine(dir, "i"), [3, 2, 2], new byte[12]);
        IdxReader.Write(Path.Combine(dir, "l"), [4], new byte[4]);
        Assert.Contains("4 labels", Assert.Throws<InvalidDataException>(() => IdxReader.ReadImages(Path.Combine(dir, "i"), Path.Combine(dir, "l"))).Message);
    }

    [Fact]
    public void MissingMnistSaysHowToGetIt()
    {
        var e = Assert.Throws<DataUnavailableException>(() => ImageDataSources.Load(ImageDataSources.Mnist, directory: dir));
        Assert.Contains("MOELAB_MNIST_DIR", e.Message);
        var f = Assert.Throws<DataUnavailableException>(() => ImageDataSources.Load(ImageDataSources.FashionMnist, directory: dir));
        Assert.Contains("apt-get install -y dataset-fashion-mnist", f.Message);
    }

    [Fact]
    public void ShippedSubsetLoads()
    {
        var (train, test) = ImageDataSources.Load(ImageDataSources.FashionMnistSubset);
        Assert.Equal(2000, train.Count);
        Assert.Equal(500, test.Count);
        Assert.Equal(784, train.FeatureCount);
        Assert.Equal(10, train.Labels.Distinct().Count());
    }

    [Fact]
    public void SeededSplitIsDisjointCompleteAndReproducible()
    {
        int n = 50;
        var ds = new ImageDataset(Enumerable.Range(0, n).Select(i => i / 100f).ToArray(), Enumerable.Range(0, n).Select(i => i % 10).ToArray(), 1, 1, 1, 10, "gen");
        var (t1, v1) = ds.SplitTrainValidation(0.2, seed: 3);
        var (t2, v2) = ds.SplitTrainValidation(0.2, seed: 3);
        var (_, v3) = ds.SplitTrainValidation(0.2, seed: 4);
        Assert.Equal(10, v1.Count);
        Assert.Equal(40, t1.Count);
        Assert.Equal(v1.Pixels, v2.Pixels);
        Assert.Equal(t1.Pixels, t2.Pixels);
        Assert.NotEqual(v1.Pixels, v3.Pixels);
        Assert.Empty(t1.Pixels.Intersect(v1.Pixels));
        Assert.Equal(n, t1.Pixels.Union(v1.Pixels).Count());
    }
}
