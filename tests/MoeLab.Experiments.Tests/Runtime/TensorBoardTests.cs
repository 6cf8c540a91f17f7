using System.Text;
using System.Text.Json.Nodes;
using MoeLab.Experiments.Runtime;

namespace MoeLab.Experiments.Tests.Runtime;

/// <summary>TensorBoard event files next to metrics.csv: valid TFRecords (both CRCs), the same
/// steps, tags and values (as float32), and after a crash and resume TensorBoard's view (later data
/// overrides) still equals metrics.csv, which stays byte-identical to an undisturbed run.</summary>
// Serial with the child-process tests: training in this process while other test classes train in
// parallel has, rarely, failed inside LibTorch (a scalar conversion error), so these runs get the process to themselves.
[Collection(ChildProcessCollection.Name)]
public class TensorBoardTests
{
    private static readonly string[] Short = ["train.steps=40", "train.logEvery=5", "train.evalEvery=10", "train.checkpointEvery=10"];

    [Fact]
    public void Crc32c_matches_the_published_check_value_and_the_tfrecord_mask()
    {
        byte[] check = Encoding.ASCII.GetBytes("123456789");
        Assert.Equal(0xE3069283u, TensorBoardEventWriter.Crc32C(check)); // the CRC-32C check value
        Assert.Equal(0xE3069283u, TfEventFile.Crc32C(check));
        Assert.Equal(TfEventFile.Mask(0xE3069283u), TensorBoardEventWriter.MaskedCrc32C(check));
        Assert.NotEqual(TensorBoardEventWriter.Crc32C(check), TensorBoardEventWriter.MaskedCrc32C(check));
    }

    [Fact]
    public void A_run_writes_event_files_holding_every_metric_of_metrics_csv()
    {
        using var dir = new TempDir();
        var before = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var outcome = ExperimentRunner.Run(Toy.Experiment, Toy.Smoke(Short), 3, new RunOptions { ResultsRoot = dir.Path, Device = "cpu" });
        Assert.True(outcome.Completed, outcome.Error);
        string tb = Path.Combine(outcome.RunDirectory, RunLayout.TensorBoard);
        string file = Assert.Single(Directory.GetFiles(tb));
        Assert.StartsWith("events.out.tfevents.", Path.GetFileName(file));

        var events = TfEventFile.Read(file);
        Assert.Equal("brain.Event:2", events[0].FileVersion);
        Assert.All(events, e => Assert.InRange(e.WallTime, before - 1, DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1));
        var fromEvents = events.Skip(1).SelectMany(e => e.Values.Select(v => (e.Step, v.Tag, v.Value))).ToList();
        var rows = CsvText.ReadMetrics(Path.Combine(outcome.RunDirectory, RunLayout.Metrics));
        Assert.Equal(40 / 5 * 3 + 40 / 10, rows.Count);
        Assert.Equal(rows.Select(r => (r.Step, RunRecorder.TensorBoardTag(r.Arm, r.Metric), (float)r.Value)), fromEvents);
        Assert.Contains(fromEvents, e => e.Tag == "val_loss" && e.Step == 40);
    }

    [Fact]
    public void After_a_crash_and_resume_tensorboards_view_equals_metrics_csv_which_equals_an_undisturbed_run()
    {
        using var dir = new TempDir();
        var options = new RunOptions { ResultsRoot = dir.Path, Device = "cpu" };
        var reference = ExperimentRunner.Run(Toy.Experiment, Toy.Smoke(Short), 4, options, Path.Combine(dir.Path, "reference"));

        // A "crash" at step 17: the last checkpoint is at step 10, metrics.csv and the event file
        // already hold steps 15 (and 17's progress), as after a kill -9; the manifest still says running.
        string runDir = Path.Combine(dir.Path, "crashed");
        var crashed = ExperimentRunner.Run(Toy.Experiment, Toy.Smoke(Short), 4, options with { Progress = new ThrowAtStep(17) }, runDir);
        Assert.Equal(RunLayout.Status.Failed, crashed.Status);
        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(runDir, RunLayout.Manifest)))!;
        manifest["status"] = RunLayout.Status.Running;
        File.WriteAllText(Path.Combine(runDir, RunLayout.Manifest), manifest.ToJsonString());
        // Both processes fall within the same second here: the writer's seconds bump keeps the names in write order.

        var resumed = ExperimentRunner.Resume(runDir, options);
        Assert.True(resumed.Completed, resumed.Error);
        SameResults.AssertCsv(Path.Combine(reference.RunDirectory, RunLayout.Metrics), Path.Combine(runDir, RunLayout.Metrics));

        var files = Directory.GetFiles(Path.Combine(runDir, RunLayout.TensorBoard)).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(2, files.Count); // one per process that wrote the run
        var first = TfEventFile.Read(files[0]).Skip(1).ToList();
        var second = TfEventFile.Read(files[1]);
        Assert.Equal("brain.Event:2", second[0].FileVersion);
        // The resumed process logged again steps the crashed one had logged: the files overlap.
        Assert.True(first.Max(e => e.Step) >= second.Skip(1).Min(e => e.Step),
            $"expected overlapping steps: first file ends at {first.Max(e => e.Step)}, second starts at {second.Skip(1).Min(e => e.Step)}");

        var view = TfEventFile.View(Path.Combine(runDir, RunLayout.TensorBoard));
        var expected = CsvText.ReadMetrics(Path.Combine(runDir, RunLayout.Metrics))
            .GroupBy(r => RunRecorder.TensorBoardTag(r.Arm, r.Metric))
            .ToDictionary(g => g.Key, g => g.Select(r => (r.Step, (float)r.Value)).ToList());
        Assert.Equal(expected.Keys.Order(), view.Keys);
        foreach (var (tag, points) in expected)
            Assert.Equal(points, view[tag].Select(kv => (kv.Key, kv.Value)).ToList());
    }

    [Fact]
    public void Non_main_arms_get_their_own_tag_prefix()
    {
        Assert.Equal("val_loss", RunRecorder.TensorBoardTag("main", "val_loss"));
        Assert.Equal("descending/val_loss", RunRecorder.TensorBoardTag("descending", "val_loss"));
    }

    /// <summary>Throws (not a cancellation) when the run reports a given training step.</summary>
    private sealed class ThrowAtStep(long step) : IProgressSink
    {
        public void Report(string phase, long s, long total, double? loss)
        {
            if (s == step) throw new IOException($"simulated crash at step {s}");
        }

        public void Log(string message) { }
    }
}
