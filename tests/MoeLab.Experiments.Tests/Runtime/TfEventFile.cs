using System.Buffers.Binary;
using System.Text;

namespace MoeLab.Experiments.Tests.Runtime;

/// <summary>A TensorBoard event file read independently of the runtime's writer: TFRecord framing
/// (uint64 length, masked CRC-32C of the length, data, masked CRC-32C of the data; both CRCs
/// checked with a table-driven CRC-32C of our own) and the few Event protobuf fields scalars use.</summary>
internal static class TfEventFile
{
    private static readonly uint[] Table = BuildTable();

    public static uint Crc32C(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return ~crc;
    }

    public static uint Mask(uint crc) => unchecked(((crc >> 15) | (crc << 17)) + 0xa282ead8u);

    /// <summary>Every record of a file; a CRC mismatch or a cut record fails the test (naming the offset).</summary>
    public static List<TfEvent> Read(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        var events = new List<TfEvent>();
        int pos = 0;
        while (pos < bytes.Length)
        {
            Assert.True(bytes.Length - pos >= 12, $"{path}: cut record header at byte {pos}");
            ulong length = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(pos));
            uint lengthCrc = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(pos + 8));
            Assert.True(Mask(Crc32C(bytes.AsSpan(pos, 8))) == lengthCrc, $"{path}: length CRC mismatch at byte {pos}");
            pos += 12;
            Assert.True((ulong)(bytes.Length - pos) >= length + 4, $"{path}: cut record data at byte {pos}");
            var data = bytes.AsSpan(pos, (int)length);
            uint dataCrc = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(pos + (int)length));
            Assert.True(Mask(Crc32C(data)) == dataCrc, $"{path}: data CRC mismatch at byte {pos}");
            events.Add(DecodeEvent(data));
            pos += (int)length + 4;
        }
        return events;
    }

    /// <summary>TensorBoard's view of a run folder: files in name order; for each tag, a step that is
    /// not after the last one seen drops the points from that step on (later data overrides).</summary>
    public static SortedDictionary<string, SortedDictionary<long, float>> View(string directory)
    {
        var view = new SortedDictionary<string, SortedDictionary<long, float>>(StringComparer.Ordinal);
        foreach (string file in Directory.GetFiles(directory, "*tfevents*").Order(StringComparer.Ordinal))
            foreach (var e in Read(file))
                foreach (var (tag, value) in e.Values)
                {
                    if (!view.TryGetValue(tag, out var series)) view[tag] = series = new SortedDictionary<long, float>();
                    if (series.Count > 0 && e.Step <= series.Keys.Last())
                        foreach (long s in series.Keys.Where(s => s >= e.Step).ToList()) series.Remove(s);
                    series[e.Step] = value;
                }
        return view;
    }

    private static TfEvent DecodeEvent(ReadOnlySpan<byte> data)
    {
        double wall = 0;
        long step = 0;
        string? version = null;
        var values = new List<(string, float)>();
        int pos = 0;
        while (pos < data.Length)
        {
            ulong key = Varint(data, ref pos);
            int field = (int)(key >> 3), wire = (int)(key & 7);
            switch (field, wire)
            {
                case (1, 1): wall = BinaryPrimitives.ReadDoubleLittleEndian(data[pos..]); pos += 8; break;
                case (2, 0): step = (long)Varint(data, ref pos); break;
                case (3, 2): version = Encoding.UTF8.GetString(Bytes(data, ref pos)); break;
                case (5, 2): values.AddRange(DecodeSummary(Bytes(data, ref pos))); break;
                default: Assert.Fail($"unexpected Event field {field} (wire type {wire})"); break;
            }
        }
        return new TfEvent(wall, step, version, values);
    }

    private static List<(string, float)> DecodeSummary(ReadOnlySpan<byte> data)
    {
        var values = new List<(string, float)>();
        int pos = 0;
        while (pos < data.Length)
        {
            ulong key = Varint(data, ref pos);
            Assert.Equal(((ulong)1 << 3) | 2, key); // repeated Value value = 1
            var v = Bytes(data, ref pos);
            string? tag = null;
            float? simple = null;
            int p = 0;
            while (p < v.Length)
            {
                ulong k = Varint(v, ref p);
                if (k == ((1 << 3) | 2)) tag = Encoding.UTF8.GetString(Bytes(v, ref p));
                else if (k == ((2 << 3) | 5)) { simple = BinaryPrimitives.ReadSingleLittleEndian(v[p..]); p += 4; }
                else Assert.Fail($"unexpected Summary.Value field key {k}");
            }
            Assert.NotNull(tag);
            Assert.NotNull(simple);
            values.Add((tag!, simple!.Value));
        }
        return values;
    }

    private static ReadOnlySpan<byte> Bytes(ReadOnlySpan<byte> data, ref int pos)
    {
        int n = (int)Varint(data, ref pos);
        var slice = data.Slice(pos, n);
        pos += n;
        return slice;
    }

    private static ulong Varint(ReadOnlySpan<byte> data, ref int pos)
    {
        ulong result = 0;
        for (int shift = 0; ; shift += 7)
        {
            byte b = data[pos++];
            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return result;
        }
    }

    private static uint[] BuildTable()
    {
        var t = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            uint c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0x82F63B78u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        return t;
    }
}
