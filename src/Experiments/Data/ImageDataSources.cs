using MoeLab.Experiments.Runtime;

namespace MoeLab.Experiments.Data;

/// <summary>Finds and loads the image classification sets used by the reproductions. Nothing is
/// downloaded: every source is a local directory, and a missing one is an error that says how to
/// get it.
/// <list type="bullet">
/// <item><c>fashion-mnist</c>: the full set (60k/10k) from Debian's <c>dataset-fashion-mnist</c>
/// package (/usr/share/datasets/fashion-mnist), or $MOELAB_FASHION_MNIST_DIR.</item>
/// <item><c>fashion-mnist-subset</c>: the 2,000/500 subset shipped in data/fashion-mnist-subset
/// (first examples of the official files; MIT licence, see its README).</item>
/// <item><c>mnist</c>: no offline copy is available on our machines; $MOELAB_MNIST_DIR must point
/// at the four standard IDX files.</item>
/// <item><c>cifar10</c>: binary version in $MOELAB_CIFAR10_DIR.</item>
/// </list></summary>
public static class ImageDataSources
{
    public const string FashionMnist = "fashion-mnist";
    public const string FashionMnistSubset = "fashion-mnist-subset";
    public const string Mnist = "mnist";
    public const string Cifar10 = "cifar10";
    public static readonly string[] Names = [FashionMnist, FashionMnistSubset, Mnist, Cifar10];

    public const string DebianFashionMnistDir = "/usr/share/datasets/fashion-mnist";
    public const string TrainImages = "train-images-idx3-ubyte", TrainLabels = "train-labels-idx1-ubyte";
    public const string TestImages = "t10k-images-idx3-ubyte", TestLabels = "t10k-labels-idx1-ubyte";

    /// <summary>Loads train and test of <paramref name="name"/>. <paramref name="directory"/>
    /// overrides where to look; limits &gt; 0 keep the first examples of each part.</summary>
    public static (ImageDataset Train, ImageDataset Test) Load(string name, string? directory = null, int trainLimit = 0, int testLimit = 0)
    {
        switch (name)
        {
            case FashionMnist:
            {
                string dir = directory ?? Environment.GetEnvironmentVariable("MOELAB_FASHION_MNIST_DIR") ?? DebianFashionMnistDir;
                return LoadIdxDirectory(dir, name, trainLimit, testLimit,
                    "install Debian's package with `apt-get install -y dataset-fashion-mnist` (files in " +
                    $"{DebianFashionMnistDir}), or set MOELAB_FASHION_MNIST_DIR, or use dataset 'fashion-mnist-subset' (shipped in data/)");
            }
            case FashionMnistSubset:
            {
                string dir = directory ?? ShippedSubsetDirectory();
                return LoadIdxDirectory(dir, name, trainLimit, testLimit,
                    "the subset ships with the repository in data/fashion-mnist-subset; run from a checkout of MoeLab");
            }
            case Mnist:
            {
                string? dir = directory ?? Environment.GetEnvironmentVariable("MOELAB_MNIST_DIR");
                if (dir is null)
                    throw new DataUnavailableException(
                        "MNIST is not available offline on this machine (no Debian package or shipped copy exists). " +
                        "Set MOELAB_MNIST_DIR to a directory holding train-images-idx3-ubyte(.gz), train-labels-idx1-ubyte(.gz), " +
                        "t10k-images-idx3-ubyte(.gz) and t10k-labels-idx1-ubyte(.gz).");
                return LoadIdxDirectory(dir, name, trainLimit, testLimit, "set MOELAB_MNIST_DIR to the directory of the four MNIST IDX files");
            }
            case Cifar10:
            {
                string? dir = directory ?? Environment.GetEnvironmentVariable("MOELAB_CIFAR10_DIR");
                if (dir is null)
                    throw new DataUnavailableException(
                        "CIFAR-10 is not available offline on this machine. Set MOELAB_CIFAR10_DIR to the binary version's " +
                        "directory (cifar-10-batches-bin: data_batch_1..5.bin, test_batch.bin).");
                return Cifar10Reader.ReadDirectory(dir, trainLimit, testLimit);
            }
            default:
                throw new ArgumentException($"Unknown image data set '{name}'; expected one of: {string.Join(", ", Names)}.");
        }
    }

    /// <summary>True when <see cref="Load"/> would find the files (no exception).</summary>
    public static bool IsAvailable(string name, string? directory = null)
    {
        try
        {
            return name switch
            {
                FashionMnist => IdxFilesPresent(directory ?? Environment.GetEnvironmentVariable("MOELAB_FASHION_MNIST_DIR") ?? DebianFashionMnistDir),
                FashionMnistSubset => IdxFilesPresent(directory ?? ShippedSubsetDirectory()),
                Mnist => (directory ?? Environment.GetEnvironmentVariable("MOELAB_MNIST_DIR")) is string d && IdxFilesPresent(d),
                Cifar10 => (directory ?? Environment.GetEnvironmentVariable("MOELAB_CIFAR10_DIR")) is string c &&
                           File.Exists(Path.Combine(c, Cifar10Reader.TestFile)),
                _ => false,
            };
        }
        catch (DataUnavailableException) { return false; }
    }

    /// <summary>data/fashion-mnist-subset in the repository (found by walking up to Experiments.sln).</summary>
    public static string ShippedSubsetDirectory()
    {
        string? repo = RunLayout.FindRepoRoot(Directory.GetCurrentDirectory()) ?? RunLayout.FindRepoRoot(AppContext.BaseDirectory);
        if (repo is null)
            throw new DataUnavailableException(
                "Cannot find the MoeLab repository (Experiments.sln) above the current directory or the program, so the shipped " +
                "data/fashion-mnist-subset cannot be located. Run from a checkout, or pass the directory explicitly.");
        return Path.Combine(repo, "data", "fashion-mnist-subset");
    }

    private static bool IdxFilesPresent(string dir) =>
        new[] { TrainImages, TrainLabels, TestImages, TestLabels }.All(f => FindIdx(dir, f) is not null);

    private static string? FindIdx(string dir, string stem)
    {
        foreach (string candidate in new[] { stem + ".gz", stem })
        {
            string p = Path.Combine(dir, candidate);
            if (File.Exists(p)) return p;
        }
        return null;
    }

    private static (ImageDataset, ImageDataset) LoadIdxDirectory(string dir, string name, int trainLimit, int testLimit, string howToGet)
    {
        string Need(string stem) => FindIdx(dir, stem) ?? throw new DataUnavailableException(
            $"Data set '{name}': {Path.Combine(dir, stem)}(.gz) not found. To get it: {howToGet}.");
        var train = IdxReader.ReadImages(Need(TrainImages), Need(TrainLabels), 10, trainLimit);
        var test = IdxReader.ReadImages(Need(TestImages), Need(TestLabels), 10, testLimit);
        return (train, test);
    }
}

/// <summary>A data set the run needs is not present on this machine; the message says how to get it.</summary>
public sealed class DataUnavailableException(string message) : Exception(message);
