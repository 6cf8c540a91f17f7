using MoeLab.Models.Schedules;

namespace MoeLab.Models.Tests;

public class ScheduleTests
{
    private static int[] Counts(ScheduleShape shape, bool budget = false) =>
        new CapacitySchedule { Shape = shape, Layers = 5, MinExperts = 2, MaxExperts = 10, BudgetMatched = budget }.ExpertsPerLayer();

    [Fact]
    public void SchedulesFollowTheirFormulas()
    {
        // r = 0, .25, .5, .75, 1; N̄ = 6; wave amplitude (10−2)/2 = 4, one period
        Assert.Equal(new[] { 6, 6, 6, 6, 6 }, Counts(ScheduleShape.Uniform));
        Assert.Equal(new[] { 10, 8, 6, 4, 2 }, Counts(ScheduleShape.Descending));
        Assert.Equal(new[] { 2, 4, 6, 8, 10 }, Counts(ScheduleShape.Ascending));
        Assert.Equal(new[] { 2, 6, 10, 6, 2 }, Counts(ScheduleShape.Pyramid));
        Assert.Equal(new[] { 10, 6, 2, 6, 10 }, Counts(ScheduleShape.Valley));
        Assert.Equal(new[] { 6, 10, 6, 2, 6 }, Counts(ScheduleShape.Wave));
    }

    [Fact]
    public void BudgetMatchingEqualisesTotals()
    {
        foreach (var shape in Enum.GetValues<ScheduleShape>())
        {
            var counts = Counts(shape, budget: true);
            Assert.Equal(30, counts.Sum());
            Assert.All(counts, c => Assert.True(c >= 1));
        }
        // pyramid raw total 26 → scaled ×30/26 = 2.31, 6.92, 11.54, 6.92, 2.31 → largest remainders
        Assert.Equal(new[] { 2, 7, 12, 7, 2 }, Counts(ScheduleShape.Pyramid, budget: true));
        Assert.Equal(new[] { 9, 5, 2, 5, 9 }, Counts(ScheduleShape.Valley, budget: true));
        // descending is already on budget
        Assert.Equal(new[] { 10, 8, 6, 4, 2 }, Counts(ScheduleShape.Descending, budget: true));
    }

    [Fact]
    public void CountsAreClampedToAtLeastOne()
    {
        var wave = new CapacitySchedule { Shape = ScheduleShape.Wave, Layers = 5, MinExperts = 1, MaxExperts = 3, MeanExperts = 1, WaveAmplitude = 3 };
        Assert.All(wave.ExpertsPerLayer(), c => Assert.True(c >= 1));
        Assert.Equal(new[] { 1, 4, 1, 1, 1 }, wave.ExpertsPerLayer()); // 1 + 3·sin(2πr)
        var budget = wave with { BudgetMatched = true };
        Assert.Equal(5, budget.ExpertsPerLayer().Sum());
        Assert.All(budget.ExpertsPerLayer(), c => Assert.True(c >= 1));
    }

    [Fact]
    public void SingleLayerAndBadInput()
    {
        Assert.Equal(new[] { 10 }, new CapacitySchedule { Shape = ScheduleShape.Descending, Layers = 1, MinExperts = 2, MaxExperts = 10 }.ExpertsPerLayer());
        Assert.Throws<ArgumentException>(() => new CapacitySchedule { Layers = 0 }.ExpertsPerLayer());
        Assert.Throws<ArgumentException>(() => new CapacitySchedule { MinExperts = 5, MaxExperts = 3 }.ExpertsPerLayer());
    }
}
