using System.Text;

namespace MoeLab.Experiments.Runtime;

/// <summary>Atomic file writes: the content goes to a temporary file in the same folder, is
/// flushed to disk, and is then renamed over the target. A crash at any point leaves either the
/// old file or the new one, never a half-written file under the target name (leftover
/// <c>*.tmp-*</c> files are ignored by readers).</summary>
public static class AtomicFile
{
    /// <summary>Test hook: called after the temporary file is complete and before the rename.
    /// Throwing from it simulates a crash between the two steps. Flows with the async context,
    /// so parallel tests do not see each other's hook.</summary>
    internal static readonly AsyncLocal<Action<string>?> BeforeRename = new();

    public static void WriteAllText(string path, string content) =>
        Write(path, tmp => File.WriteAllText(tmp, content, new UTF8Encoding(false)));

    public static void WriteAllBytes(string path, byte[] content) =>
        Write(path, tmp => File.WriteAllBytes(tmp, content));

    /// <summary>Calls <paramref name="writeToTemp"/> with a temporary path next to
    /// <paramref name="path"/>, then renames that file into place.</summary>
    public static void Write(string path, Action<string> writeToTemp)
    {
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string tmp = TempPathFor(full);
        try
        {
            writeToTemp(tmp);
            if (!File.Exists(tmp))
                throw new IOException($"Writing '{full}': the writer did not create the temporary file '{tmp}'.");
            using (var fs = new FileStream(tmp, FileMode.Open, FileAccess.ReadWrite)) fs.Flush(flushToDisk: true);
            BeforeRename.Value?.Invoke(full);
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            try { if (File.Exists(tmp)) File.Delete(tmp); } catch (IOException) { }
            throw;
        }
    }

    /// <summary>A unique temporary name in the target's folder (same file system, so rename is atomic).</summary>
    public static string TempPathFor(string fullPath) =>
        fullPath + ".tmp-" + Environment.ProcessId + "-" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>True for the temporary files <see cref="Write"/> leaves behind after a crash.</summary>
    public static bool IsTempFile(string path) => Path.GetFileName(path).Contains(".tmp-", StringComparison.Ordinal);
}
