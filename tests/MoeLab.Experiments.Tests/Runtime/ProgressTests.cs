using MoeLab.Experiments.Runtime;

namespace MoeLab.Experiments.Tests.Runtime;

public class ProgressTests
{
    [Fact]
    public void Plain_progress_prints_step_total_loss_and_eta_and_throttles()
    {
        var outWriter = new StringWriter();
        var every = new PlainProgressSink(outWriter, "toy s0") { Interval = TimeSpan.Zero };
        every.Report("train", 1, 4, 0.5);
        Thread.Sleep(5);
        every.Report("train", 2, 4, 0.25);
        every.Log("hello");
        var lines = outWriter.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("[toy s0] train 1/4 (25%) loss 0.5 elapsed", lines[0]);
        Assert.Matches(@"^\[toy s0\] train 2/4 \(50%\) loss 0\.25 elapsed \d+s eta \d+s", lines[1]);
        Assert.Equal("[toy s0] hello", lines[2].TrimEnd('\r'));

        var throttled = new StringWriter();
        var sink = new PlainProgressSink(throttled, "x") { Interval = TimeSpan.FromHours(1) };
        for (int s = 1; s <= 100; s++) sink.Report("train", s, 100, null);
        Assert.Equal(2, throttled.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Length); // first and last
    }
}
