using System.Text.Json;

namespace MoeLab.Experiments.Runtime;

/// <summary>Checkpoint entries as files under &lt;run&gt;/checkpoint/, each written atomically.
/// JSON entries are stored as <c>&lt;name&gt;.json</c>, binary entries under their own name.
/// <paramref name="beforeSave"/> runs before each entry is written (the run recorder flushes the
/// metrics it covers there).</summary>
public sealed class FileCheckpointStore(string directory, Action? beforeSave = null) : ICheckpointStore
{
    public string Directory { get; } = directory;

    private string JsonPath(string name) => Path.Combine(Directory, name + ".json");
    private string FilePath(string name) => Path.Combine(Directory, name);

    public bool Exists(string name) => File.Exists(JsonPath(name)) || File.Exists(FilePath(name));

    public void SaveJson<T>(string name, T state)
    {
        CheckpointNames.Validate(name);
        beforeSave?.Invoke();
        AtomicFile.WriteAllText(JsonPath(name), JsonSerializer.Serialize(state, ConfigJson.Options));
    }

    public T? LoadJson<T>(string name) where T : class
    {
        string path = JsonPath(name);
        if (!File.Exists(path)) return null;
        try
        {
            return JsonSerializer.Deserialize<T>(File.ReadAllText(path), ConfigJson.Options);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Checkpoint entry {path} is not a valid {typeof(T).Name} (at '{e.Path}'): {e.Message}", e);
        }
    }

    public void SaveFile(string name, Action<string> writeToPath)
    {
        CheckpointNames.Validate(name);
        beforeSave?.Invoke();
        AtomicFile.Write(FilePath(name), writeToPath);
    }

    public string PathOf(string name)
    {
        string path = FilePath(name);
        if (!File.Exists(path))
            throw new FileNotFoundException($"Checkpoint entry '{name}' does not exist in {Directory}.", path);
        return path;
    }

    public int DeleteWithPrefix(string prefix)
    {
        CheckpointNames.Validate(prefix);
        if (!System.IO.Directory.Exists(Directory)) return 0;
        int removed = 0;
        foreach (string file in System.IO.Directory.EnumerateFiles(Directory, prefix + "*"))
        {
            File.Delete(file);
            removed++;
        }
        return removed;
    }
}
