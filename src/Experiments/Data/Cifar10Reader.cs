namespace MoeLab.Experiments.Data;

/// <summary>Reader of the CIFAR-10 "binary version" (Krizhevsky 2009): each record is one label
/// byte (0–9) followed by 3072 pixel bytes — 1024 red, 1024 green, 1024 blue, each a 32×32
/// row-major plane. Training files are data_batch_1.bin … data_batch_5.bin, test is
/// test_batch.bin, 10,000 records each.</summary>
public static class Cifar10Reader
{
    public const int Side = 32, Channels = 3, PixelBytes = Channels * Side * Side, RecordBytes = 1 + PixelBytes;
    public static readonly string[] TrainFiles = ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"];
    public const string TestFile = "test_batch.bin";

    /// <summary>Reads one or more batch files into one dataset (pixels in [0, 1], channel-major).</summary>
    public static ImageDataset ReadFiles(IReadOnlyList<string> paths, int limit = 0)
    {
        var pixels = new List<float>();
        var labels = new List<int>();
        foreach (string path in paths)
        {
            if (!File.Exists(path))
                throw new FileNotFoundException($"CIFAR-10 batch file not found: {path}. Expected the binary version " +
                    "(cifar-10-batches-bin/: data_batch_1..5.bin, test_batch.bin).", path);
            byte[] bytes = File.ReadAllBytes(path);
            if (bytes.Length == 0 || bytes.Length % RecordBytes != 0)
                throw new InvalidDataException($"{path}: size {bytes.Length} is not a positive multiple of the {RecordBytes}-byte CIFAR-10 record.");
            for (int r = 0; r < bytes.Length / RecordBytes; r++)
            {
                if (limit > 0 && labels.Count >= limit) break;
                int offset = r * RecordBytes;
                byte label = bytes[offset];
                if (label > 9) throw new InvalidDataException($"{path}: record {r} has label {label}, expected 0–9.");
                labels.Add(label);
                for (int i = 1; i <= PixelBytes; i++) pixels.Add(bytes[offset + i] / 255f);
            }
        }
        return new ImageDataset(pixels.ToArray(), labels.ToArray(), Channels, Side, Side, 10, string.Join(", ", paths));
    }

    /// <summary>Reads the train and test sets from a cifar-10-batches-bin directory.</summary>
    public static (ImageDataset Train, ImageDataset Test) ReadDirectory(string directory, int trainLimit = 0, int testLimit = 0)
    {
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"CIFAR-10 directory not found: {directory}. No offline copy ships with MoeLab; " +
                "place the binary version (cifar-10-batches-bin) there or set MOELAB_CIFAR10_DIR.");
        var train = ReadFiles(TrainFiles.Select(f => Path.Combine(directory, f)).ToArray(), trainLimit);
        var test = ReadFiles([Path.Combine(directory, TestFile)], testLimit);
        return (train, test);
    }
}
