using MoeLab.Experiments.Papers.MoeContinualLearning;
using MoeLab.Experiments.Runtime;
using MoeLab.Experiments.Tests.Runtime;

namespace MoeLab.Experiments.Tests.Papers.MoeContinualLearning;

/// <summary>The continual-learning experiment checkpoints every completed repetition: a stopped run
/// resumes where it was and ends with the files of an uninterrupted run.</summary>
public class MoeContinualLearningResumeTests
{
    [Fact]
    public void Interrupted_run_resumes_from_completed_repetitions_with_identical_files()
    {
        using var dir = new TempDir();
        var experiment = new MoeContinualLearningExperiment();
        var config = ConfigBinder.Resolve(experiment, "smoke", null, ["expertCount.repetitions=3", "termination.repetitions=2"]);
        var options = new RunOptions { ResultsRoot = dir.Path, Device = "cpu" };
        var full = ExperimentRunner.Run(experiment, config, 5, options, Path.Combine(dir.Path, "full"));
        Assert.Equal(RunLayout.Status.Completed, full.Status);

        // Stop during the third repetition of the expert-count study (2 arms a repetition: progress 5 of 6).
        using var cts = new CancellationTokenSource();
        string runDir = Path.Combine(dir.Path, "cut");
        var cut = ExperimentRunner.Run(experiment, config, 5, options with { Cancellation = cts.Token, Progress = new CancelAtStep(cts, 5) }, runDir);
        Assert.Equal(RunLayout.Status.Interrupted, cut.Status);
        var entries = Directory.GetFiles(Path.Combine(runDir, RunLayout.Checkpoint), "cl-*").Select(Path.GetFileName).Order().ToArray();
        Assert.Equal(new[] { "cl-expert-count-rep-00000", "cl-expert-count-rep-00001" }, entries);

        var resumed = ExperimentRunner.Resume(runDir, options);
        Assert.Equal(RunLayout.Status.Completed, resumed.Status);
        Assert.Contains("resumed: 2 repetition(s) read from the checkpoint, 3 computed", File.ReadAllText(Path.Combine(runDir, RunLayout.Log)));
        foreach (string file in new[] { RunLayout.Metrics, RunLayout.Summary }
                     .Concat(Directory.GetFiles(Path.Combine(full.RunDirectory, RunLayout.Tables)).Select(f => Path.Combine(RunLayout.Tables, Path.GetFileName(f)))))
            Assert.Equal(File.ReadAllText(Path.Combine(full.RunDirectory, file)), File.ReadAllText(Path.Combine(runDir, file)));
    }

    [Fact]
    public void Codec_round_trips_every_field_exactly()
    {
        var study = MoeContinualLearningStudies.RunExpertCount(MoeContinualLearningExperiment.Smoke.ExpertCount, 3);
        var arms = study.Arms.Select(a => a.Runs[0]).ToList();
        using var dir = new TempDir();
        string path = Path.Combine(dir.Path, "rep");
        SimulationResultCodec.Write(path, arms);
        var back = SimulationResultCodec.Read(path);
        Assert.Equal(arms.Count, back.Count);
        for (int i = 0; i < arms.Count; i++)
        {
            Assert.Equal(arms[i].Forgetting, back[i].Forgetting);
            Assert.Equal(arms[i].Generalisation, back[i].Generalisation);
            Assert.Equal(arms[i].TaskOfRound, back[i].TaskOfRound);
            Assert.Equal(arms[i].ExpertOfRound, back[i].ExpertOfRound);
            Assert.Equal(arms[i].Assignment, back[i].Assignment);
            Assert.Equal(arms[i].Load, back[i].Load);
            Assert.Equal(arms[i].TerminationRound, back[i].TerminationRound);
            Assert.Equal(arms[i].FlaggedAtEnd, back[i].FlaggedAtEnd);
            Assert.Equal(arms[i].FinalExperts, back[i].FinalExperts);
            Assert.Equal(arms[i].FinalGate, back[i].FinalGate);
        }
    }
}
