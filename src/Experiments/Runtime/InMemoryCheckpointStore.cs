using System.Text.Json;

namespace MoeLab.Experiments.Runtime;

/// <summary>Checkpoint entries kept in memory (tests, notebooks). Binary entries are written to a
/// temporary file by the caller and kept as bytes; <see cref="PathOf"/> materialises them again.
/// Pass the same store to a second <see cref="InMemoryRunContext"/> to simulate a resume.</summary>
public sealed class InMemoryCheckpointStore : ICheckpointStore, IDisposable
{
    private readonly Dictionary<string, string> _json = new();
    private readonly Dictionary<string, byte[]> _files = new();
    private readonly string _scratch = Path.Combine(Path.GetTempPath(), "moelab-ckpt-" + Guid.NewGuid().ToString("N")[..12]);

    public IReadOnlyCollection<string> Names => _json.Keys.Concat(_files.Keys).ToList();

    /// <summary>Called with an entry's name right after it is stored (tests throw from it to simulate a
    /// process killed between two writes of one checkpoint).</summary>
    public Action<string>? AfterSave { get; set; }

    public bool Exists(string name) => _json.ContainsKey(name) || _files.ContainsKey(name);

    public void SaveJson<T>(string name, T state)
    {
        CheckpointNames.Validate(name);
        _json[name] = JsonSerializer.Serialize(state, ConfigJson.Options);
        _files.Remove(name);
        AfterSave?.Invoke(name);
    }

    public T? LoadJson<T>(string name) where T : class =>
        _json.TryGetValue(name, out var text) ? JsonSerializer.Deserialize<T>(text, ConfigJson.Options) : null;

    public void SaveFile(string name, Action<string> writeToPath)
    {
        CheckpointNames.Validate(name);
        Directory.CreateDirectory(_scratch);
        string tmp = Path.Combine(_scratch, Guid.NewGuid().ToString("N"));
        writeToPath(tmp);
        _files[name] = File.ReadAllBytes(tmp);
        _json.Remove(name);
        File.Delete(tmp);
        AfterSave?.Invoke(name);
    }

    public string PathOf(string name)
    {
        if (!_files.TryGetValue(name, out var bytes))
            throw new FileNotFoundException($"Checkpoint entry '{name}' does not exist (entries: {string.Join(", ", Names)}).");
        Directory.CreateDirectory(_scratch);
        string path = Path.Combine(_scratch, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    public int DeleteWithPrefix(string prefix)
    {
        var names = Names.Where(n => n.StartsWith(prefix, StringComparison.Ordinal)).ToList();
        foreach (string n in names) { _json.Remove(n); _files.Remove(n); }
        return names.Count;
    }

    public void Dispose()
    {
        try { if (Directory.Exists(_scratch)) Directory.Delete(_scratch, recursive: true); } catch (IOException) { }
    }
}

/// <summary>Rules for checkpoint entry names (plain file names).</summary>
public static class CheckpointNames
{
    public static void Validate(string name)
    {
        if (string.IsNullOrWhiteSpace(name) || name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 ||
            name is "." or ".." || name.Contains(".tmp-", StringComparison.Ordinal))
            throw new ArgumentException($"Checkpoint entry name '{name}' must be a plain file name (no '/', no '.tmp-').", nameof(name));
    }
}
