using System.Globalization;
using System.Text.Json;

namespace MoeLab.Experiments.Runtime;

/// <summary>One writer per run (or sweep) directory: an exclusive OS lock on <c>&lt;dir&gt;/.lock</c>,
/// held for as long as this object lives. On Linux .NET takes it with <c>flock(LOCK_EX|LOCK_NB)</c>
/// when a file is opened with <see cref="FileShare.None"/>, so the kernel releases it when the
/// holder exits for any reason (kill -9 included): a crashed process never leaves a directory stuck.
/// Who holds it (pid, host, command, since when) is written beside it in <c>.lock.owner</c>, so a
/// second writer is told which live process to wait for. Works across processes and within one.</summary>
public sealed class DirectoryLock : IDisposable
{
    public const string LockFile = ".lock";
    public const string OwnerFile = ".lock.owner";

    private FileStream? _stream;

    private DirectoryLock(string directory, FileStream stream)
    {
        Directory = directory;
        _stream = stream;
    }

    public string Directory { get; }

    /// <summary>True until <see cref="Dispose"/> released the lock.</summary>
    public bool Holding => Volatile.Read(ref _stream) is not null;

    /// <summary>Takes the lock or throws <see cref="DirectoryInUseException"/> naming the holder.
    /// Creates the directory when needed.</summary>
    /// <param name="what">What the directory is, for the message: "run", "sweep".</param>
    public static DirectoryLock Acquire(string directory, string what = "run")
    {
        string dir = Path.GetFullPath(directory);
        System.IO.Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, LockFile);
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException)
        {
            throw new DirectoryInUseException(dir, what, WaitForOwner(dir), e);
        }
        var owner = new LockOwner(Environment.ProcessId, Environment.MachineName,
            string.Join(' ', Environment.GetCommandLineArgs().Select(Path.GetFileName)), DateTimeOffset.UtcNow);
        try
        {
            AtomicFile.WriteAllText(Path.Combine(dir, OwnerFile), JsonSerializer.Serialize(owner, ConfigJson.Options));
        }
        catch
        {
            stream.Dispose();
            throw;
        }
        return new DirectoryLock(dir, stream);
    }

    /// <summary>True when some process (this one included) holds the lock of <paramref name="directory"/>.</summary>
    public static bool IsHeld(string directory)
    {
        string path = Path.Combine(directory, LockFile);
        if (!File.Exists(path)) return false;
        try
        {
            using var s = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
            return false;
        }
        catch (FileNotFoundException)
        {
            return false;
        }
        catch (IOException)
        {
            return true;
        }
    }

    /// <summary>The holder of a lock we failed to take. It writes its owner file just after taking
    /// the lock (with an fsync, which can take a while on a loaded machine), so a contender arriving
    /// in between waits up to two seconds for it, as long as the lock is still held.</summary>
    private static LockOwner? WaitForOwner(string dir)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            if (ReadOwner(dir) is { } owner) return owner;
            if (clock.Elapsed > TimeSpan.FromSeconds(2) || !IsHeld(dir)) return ReadOwner(dir);
            Thread.Sleep(25);
        }
    }

    /// <summary>The recorded holder of a directory's lock (it may be stale when nobody holds the lock).</summary>
    public static LockOwner? ReadOwner(string directory)
    {
        try
        {
            string path = Path.Combine(directory, OwnerFile);
            return File.Exists(path) ? JsonSerializer.Deserialize<LockOwner>(File.ReadAllText(path), ConfigJson.Options) : null;
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    public void Dispose()
    {
        var s = Interlocked.Exchange(ref _stream, null);
        if (s is null) return;
        try { File.Delete(Path.Combine(Directory, OwnerFile)); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        s.Dispose();
    }
}

/// <summary>Who holds a directory lock.</summary>
public sealed record LockOwner(int Pid, string Host, string Command, DateTimeOffset Since)
{
    public override string ToString() =>
        $"process {Pid} on {Host} (`{Command}`, since {Since.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)})";
}

/// <summary>Another live process is writing that run or sweep directory.</summary>
public sealed class DirectoryInUseException(string directory, string what, LockOwner? owner, Exception? inner = null)
    : IOException(
        $"The {what} directory '{directory}' is being written by {owner?.ToString() ?? "another process"}. " +
        $"Only one process may write a {what} at a time: wait for it to finish, or stop it" +
        (owner is null ? "" : $" (kill {owner.Pid})") + $" and continue with --resume.", inner)
{
    public string Directory { get; } = directory;
    public LockOwner? Owner { get; } = owner;
}
