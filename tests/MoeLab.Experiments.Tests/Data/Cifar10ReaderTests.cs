using MoeLab.Experiments.Data;

namespace MoeLab.Experiments.Tests.Data;

public sealed class Cifar10ReaderTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("moelab-cifar-").FullName;
    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static byte[] Records(int n, int labelOffset)
    {
        var bytes = new byte[n * Cifar10Reader.RecordBytes];
        for (int r = 0; r < n; r++)
        {
            int o = r * Cifar10Reader.RecordBytes;
            bytes[o] = (byte)((r + labelOffset) % 10);
            for (int c = 0; c < 3; c++)
                for (int p = 0; p < 1024; p++) bytes[o + 1 + c * 1024 + p] = (byte)((r * 31 + c * 85 + p) % 256);
        }
        return bytes;
    }

    [Fact]
    public void ReadsGeneratedBatchFilesInStandardLayout()
    {
        for (int b = 1; b <= 5; b++) File.WriteAllBytes(Path.Combine(dir, $"data_batch_{b}.bin"), Records(3, b));
        File.WriteAllBytes(Path.Combine(dir, "test_batch.bin"), Records(2, 0));
        var (train, test) = Cifar10Reader.ReadDirectory(dir);
        Assert.Equal(15, train.Count);
        Assert.Equal(2, test.Count);
        Assert.Equal((3, 32, 32), (train.Channels, train.Height, train.Width));
        Assert.Equal([1, 2, 3], train.Labels[..3]);          // batch 1: labels r + 1
        Assert.Equal([2, 3, 4], train.Labels[3..6]);         // batch 2: labels r + 2
        // test example 1, green plane (c = 1), pixel 5 → (31 + 85 + 5) % 256
        Assert.Equal((31 + 85 + 5) / 255f, test.Pixels[1 * 3072 + 1024 + 5]);
    }

    [Fact]
    public void WrongSizeIsAClearError()
    {
        string path = Path.Combine(dir, "data_batch_1.bin");
        File.WriteAllBytes(path, new byte[3073 + 10]);
        var e = Assert.Throws<InvalidDataException>(() => Cifar10Reader.ReadFiles([path]));
        Assert.Contains("3073-byte", e.Message);
    }

    [Fact]
    public void MissingDirectorySaysWhatToDo()
    {
        var e = Assert.Throws<DirectoryNotFoundException>(() => Cifar10Reader.ReadDirectory(Path.Combine(dir, "nope")));
        Assert.Contains("MOELAB_CIFAR10_DIR", e.Message);
    }
}
