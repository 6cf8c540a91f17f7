using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Text;

namespace MoeLab.Experiments.Runtime;

/// <summary>Writes TensorBoard event files for scalar metrics, so that `tensorboard --logdir
/// results/` shows runs and sweeps. The format is written directly (no TensorFlow): a file is a
/// sequence of TFRecords (little-endian uint64 length, masked CRC-32C of the length, the bytes of
/// one <c>Event</c> protocol buffer, masked CRC-32C of those bytes); the first event holds
/// <c>file_version = "brain.Event:2"</c>, every other one a wall time, a step and a
/// <c>Summary</c> with one value per metric (<c>tag</c>, <c>simple_value</c> as float32).
/// <para>One file per process: each writer (a run, or each resume of it) starts a new file
/// <c>events.out.tfevents.&lt;unix-seconds&gt;.&lt;host&gt;.&lt;pid&gt;</c>, with the seconds made larger
/// than those of every older file in the folder, so that sorting the names (as TensorBoard does)
/// gives the order the files were written in. A resumed run logs again the steps from its last
/// checkpoint on; TensorBoard's convention for a step that is not after the last one seen for a
/// tag (later data overrides: the points from that step on are dropped) makes its view equal to
/// metrics.csv, which drops and recomputes those rows the same way.</para>
/// <para>Event files are append-only logs, not replaced atomically like the other run files:
/// TensorBoard reads them incrementally while a run is live. Records are appended whole by
/// <see cref="Flush"/>; a kill -9 in the middle of an append can leave a cut last record, which
/// readers treat as the end of that file (the next process starts a new file).</para></summary>
public sealed class TensorBoardEventWriter : IDisposable
{
    public const string FilePrefix = "events.out.tfevents.";

    private readonly MemoryStream _pending = new();
    private FileStream? _file;

    /// <summary>Starts a new event file in <paramref name="directory"/> (created when needed) and
    /// writes its file_version record.</summary>
    public TensorBoardEventWriter(string directory)
    {
        Directory.CreateDirectory(directory);
        long seconds = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        foreach (string f in Directory.EnumerateFiles(directory, FilePrefix + "*"))
        {
            string rest = Path.GetFileName(f)[FilePrefix.Length..];
            int dot = rest.IndexOf('.');
            if (dot > 0 && long.TryParse(rest[..dot], NumberStyles.None, CultureInfo.InvariantCulture, out long older))
                seconds = Math.Max(seconds, older + 1);
        }
        string host = new string(Environment.MachineName.Select(c => char.IsAsciiLetterOrDigit(c) || c == '-' ? c : '_').ToArray());
        string name = $"{FilePrefix}{seconds:D10}.{host}.{Environment.ProcessId}";
        FilePath = Path.Combine(directory, name);
        _file = new FileStream(FilePath, FileMode.CreateNew, FileAccess.Write, FileShare.Read);
        var ev = new ProtoWriter();
        ev.Double(1, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0);
        ev.String(3, "brain.Event:2");
        AppendRecord(ev.ToArray());
        Flush();
    }

    public string FilePath { get; }

    /// <summary>Queues one event with a scalar per entry of <paramref name="values"/> (written by <see cref="Flush"/>).</summary>
    public void AddScalars(long step, IEnumerable<KeyValuePair<string, double>> values, DateTimeOffset? wallTime = null)
    {
        var summary = new ProtoWriter();
        foreach (var (tag, value) in values)
        {
            var v = new ProtoWriter();
            v.String(1, tag);
            v.Float(2, (float)value);
            summary.Message(1, v.ToArray());
        }
        var ev = new ProtoWriter();
        ev.Double(1, (wallTime ?? DateTimeOffset.UtcNow).ToUnixTimeMilliseconds() / 1000.0);
        ev.Int64(2, step);
        ev.Message(5, summary.ToArray());
        AppendRecord(ev.ToArray());
    }

    /// <summary>Appends what is queued to the file and hands it to the operating system.</summary>
    public void Flush()
    {
        if (_file is null || _pending.Length == 0) return;
        _file.Write(_pending.GetBuffer(), 0, (int)_pending.Length);
        _file.Flush();
        _pending.SetLength(0);
    }

    public void Dispose()
    {
        try { Flush(); }
        finally
        {
            _file?.Dispose();
            _file = null;
        }
    }

    private void AppendRecord(byte[] data)
    {
        Span<byte> header = stackalloc byte[12];
        BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)data.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], MaskedCrc32C(header[..8]));
        Span<byte> footer = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(footer, MaskedCrc32C(data));
        _pending.Write(header);
        _pending.Write(data);
        _pending.Write(footer);
    }

    /// <summary>CRC-32C (Castagnoli) of <paramref name="data"/>.</summary>
    public static uint Crc32C(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data) crc = BitOperations.Crc32C(crc, b);
        return ~crc;
    }

    /// <summary>The TFRecord mask: rotate right by 15 bits, add 0xa282ead8.</summary>
    public static uint MaskedCrc32C(ReadOnlySpan<byte> data)
    {
        uint crc = Crc32C(data);
        return unchecked(((crc >> 15) | (crc << 17)) + 0xa282ead8u);
    }

    /// <summary>The few protocol-buffer encodings an Event needs.</summary>
    private sealed class ProtoWriter
    {
        private readonly MemoryStream _s = new();

        public void Double(int field, double value)
        {
            Tag(field, 1);
            Span<byte> b = stackalloc byte[8];
            BinaryPrimitives.WriteDoubleLittleEndian(b, value);
            _s.Write(b);
        }

        public void Float(int field, float value)
        {
            Tag(field, 5);
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteSingleLittleEndian(b, value);
            _s.Write(b);
        }

        public void Int64(int field, long value)
        {
            Tag(field, 0);
            Varint(unchecked((ulong)value));
        }

        public void String(int field, string value) => Message(field, Encoding.UTF8.GetBytes(value));

        public void Message(int field, byte[] bytes)
        {
            Tag(field, 2);
            Varint((ulong)bytes.Length);
            _s.Write(bytes);
        }

        public byte[] ToArray() => _s.ToArray();

        private void Tag(int field, int wireType) => Varint((ulong)((field << 3) | wireType));

        private void Varint(ulong v)
        {
            while (v >= 0x80)
            {
                _s.WriteByte((byte)(v | 0x80));
                v >>= 7;
            }
            _s.WriteByte((byte)v);
        }
    }
}
