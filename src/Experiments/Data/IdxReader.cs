using System.IO.Compression;

namespace MoeLab.Experiments.Data;

/// <summary>Reader (and writer, for tests and shipped subsets) of the IDX format used by MNIST and
/// Fashion-MNIST (LeCun et al.): a big-endian magic number <c>0x00 0x00 type ndim</c>, ndim
/// big-endian int32 sizes, then the data. Only unsigned bytes (type 0x08) are used by these
/// sets and supported here. Files ending in <c>.gz</c> are decompressed on the fly.</summary>
public static class IdxReader
{
    public const byte UnsignedByteType = 0x08;

    /// <summary>An IDX array: its sizes and raw bytes (row-major).</summary>
    public sealed record IdxArray(int[] Shape, byte[] Data);

    public static IdxArray Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"IDX file not found: {path}", path);
        using Stream file = File.OpenRead(path);
        using Stream stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)
            ? new GZipStream(file, CompressionMode.Decompress) : file;
        return Read(stream, path);
    }

    public static IdxArray Read(Stream stream, string name)
    {
        Span<byte> header = stackalloc byte[4];
        ReadExactly(stream, header, name, "magic number");
        if (header[0] != 0 || header[1] != 0)
            throw new InvalidDataException($"{name}: not an IDX file (magic bytes {header[0]:X2} {header[1]:X2}, expected 00 00).");
        if (header[2] != UnsignedByteType)
            throw new InvalidDataException($"{name}: IDX element type 0x{header[2]:X2} is not supported (expected 0x08, unsigned byte).");
        int ndim = header[3];
        if (ndim is < 1 or > 4) throw new InvalidDataException($"{name}: IDX has {ndim} dimensions, expected 1 to 4.");
        var shape = new int[ndim];
        long total = 1;
        Span<byte> four = stackalloc byte[4];
        for (int i = 0; i < ndim; i++)
        {
            ReadExactly(stream, four, name, $"size of dimension {i}");
            int size = (four[0] << 24) | (four[1] << 16) | (four[2] << 8) | four[3];
            if (size < 0) throw new InvalidDataException($"{name}: dimension {i} has negative size {size}.");
            shape[i] = size;
            total *= size;
        }
        if (total > int.MaxValue) throw new InvalidDataException($"{name}: {total} elements is too large.");
        var data = new byte[total];
        ReadExactly(stream, data, name, $"{total} data bytes");
        return new IdxArray(shape, data);
    }

    /// <summary>Reads an images file (3-D: count × rows × cols) and its labels file (1-D) into a
    /// dataset with pixels scaled to [0, 1]. <paramref name="limit"/> &gt; 0 keeps the first examples.</summary>
    public static ImageDataset ReadImages(string imagesPath, string labelsPath, int classCount = 10, int limit = 0)
    {
        var images = Read(imagesPath);
        var labels = Read(labelsPath);
        if (images.Shape.Length != 3)
            throw new InvalidDataException($"{imagesPath}: expected 3 dimensions (count, rows, cols), got {images.Shape.Length}.");
        if (labels.Shape.Length != 1)
            throw new InvalidDataException($"{labelsPath}: expected 1 dimension (count), got {labels.Shape.Length}.");
        if (images.Shape[0] != labels.Shape[0])
            throw new InvalidDataException($"{imagesPath} has {images.Shape[0]} images but {labelsPath} has {labels.Shape[0]} labels.");
        int n = limit > 0 ? Math.Min(limit, images.Shape[0]) : images.Shape[0];
        int rows = images.Shape[1], cols = images.Shape[2];
        var pixels = new float[(long)n * rows * cols];
        for (long i = 0; i < pixels.Length; i++) pixels[i] = images.Data[i] / 255f;
        var y = new int[n];
        for (int i = 0; i < n; i++) y[i] = labels.Data[i];
        return new ImageDataset(pixels, y, 1, rows, cols, classCount, imagesPath);
    }

    /// <summary>Writes an unsigned-byte IDX file (gzip when the path ends in .gz), atomically.</summary>
    public static void Write(string path, int[] shape, byte[] data)
    {
        long total = shape.Aggregate(1L, (a, b) => a * b);
        if (total != data.Length) throw new ArgumentException($"shape {string.Join('×', shape)} needs {total} bytes, got {data.Length}.");
        string tmp = path + ".tmp";
        using (Stream file = File.Create(tmp))
        using (Stream stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)
                   ? new GZipStream(file, CompressionLevel.SmallestSize) : file)
        {
            stream.Write([0, 0, UnsignedByteType, (byte)shape.Length]);
            foreach (int s in shape) stream.Write([(byte)(s >> 24), (byte)(s >> 16), (byte)(s >> 8), (byte)s]);
            stream.Write(data);
        }
        File.Move(tmp, path, overwrite: true);
    }

    private static void ReadExactly(Stream stream, Span<byte> buffer, string name, string what)
    {
        int read = 0;
        while (read < buffer.Length)
        {
            int n = stream.Read(buffer[read..]);
            if (n == 0) throw new InvalidDataException($"{name}: file ends early while reading {what} ({read} of {buffer.Length} bytes).");
            read += n;
        }
    }
}
