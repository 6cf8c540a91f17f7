using System.Text.Json;
using MoeLab.Experiments.Runtime;

namespace MoeLab.Experiments.Cluster;

/// <summary>&lt;sweep-dir&gt;/sweep-jobs.json: every scheduler job submitted for a sweep, oldest first
/// (rewritten atomically on each submission). `moelab sweep-status` asks the scheduler about these
/// jobs; for each index the newest job that ran it counts.</summary>
public static class SweepJobLog
{
    public const string FileName = "sweep-jobs.json";

    public static string PathIn(string sweepDirectory) => Path.Combine(sweepDirectory, FileName);

    /// <summary>The recorded jobs; empty when none was submitted.</summary>
    /// <exception cref="InvalidDataException">the file is not a list of jobs (names the entry and field).</exception>
    public static IReadOnlyList<SweepJob> Read(string sweepDirectory)
    {
        string path = PathIn(sweepDirectory);
        if (!File.Exists(path)) return [];
        List<SweepJob>? jobs;
        try
        {
            jobs = JsonSerializer.Deserialize<List<SweepJob>>(File.ReadAllText(path), ConfigJson.Options);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} is not a valid job list (at '{e.Path}'): {e.Message}", e);
        }
        jobs ??= [];
        for (int i = 0; i < jobs.Count; i++)
        {
            if (jobs[i] is null || string.IsNullOrWhiteSpace(jobs[i].JobId))
                throw new InvalidDataException($"{path}: entry {i} has no 'jobId'; expected the scheduler's job id.");
            try { _ = jobs[i].IndexList; }
            catch (FormatException)
            {
                throw new InvalidDataException($"{path}: entry {i} 'indices' is '{jobs[i].Indices}'; expected an array spec such as 0-5 or 1,3,7-9.");
            }
        }
        return jobs;
    }

    public static void Append(string sweepDirectory, SweepJob job)
    {
        var jobs = Read(sweepDirectory).Append(job).ToList();
        AtomicFile.WriteAllText(PathIn(sweepDirectory), JsonSerializer.Serialize(jobs, ConfigJson.Options));
    }
}
