using MoeLab.Experiments.Runtime;
using MoeLab.Experiments.Data;
using MoeLab.Experiments.Papers.DynaMoE;

namespace MoeLab.Experiments.Tests.Papers.DynaMoE;

/// <summary>Runs alone: the experiments seed torch's process-global generator, which tests running in
/// parallel (any that draw random tensors) would otherwise advance mid-run.</summary>
[CollectionDefinition(nameof(DynaMoeSmokeTests), DisableParallelization = true)]
public sealed class DynaMoeSmokeCollection;

[Collection(nameof(DynaMoeSmokeTests))]
public sealed class DynaMoeSmokeTests
{
    [Fact]
    public void ImagesSmokePresetRunsEndToEnd()
    {
        var experiment = new DynaMoeImagesExperiment();
        var config = experiment.TypedPresets["smoke"];
        Assert.Empty(experiment.Validate(config));
        var ctx = new InMemoryRunContext("dynamoe", "smoke", 1);
        experiment.Run(config, ctx);

        var arms = DynaMoeArm.Enumerate(config.Model, config.Arms);
        foreach (var arm in arms)
        {
            Assert.True(ctx.SummaryByArm.ContainsKey(arm.Name), $"no summary for {arm.Name}");
            var v = ctx.SummaryByArm[arm.Name].Values;
            Assert.InRange(v["test_accuracy"], 0.0, 1.0);
            Assert.True(v["total_params"] >= v["active_params"]);
            Assert.True(double.IsFinite(v["grad_var_init"]) && v["grad_var_init"] >= 0);
            if (arm.Kind != ArmKind.Dense)
                Assert.InRange(v["experts_per_token_mean"], 1.0, arm.ExpertsPerLayer.Max());
        }
        Assert.Equal(arms.Count, ctx.SummaryByArm.Count);            // one row per arm: the schedule is chosen across seeds, not per run
        var hist = ctx.Tables["experts_per_token"];
        Assert.True(hist.Rows.Count > 0);
        // every (arm, layer) histogram sums to 1
        var sums = hist.Rows.GroupBy(r => ((string)r[0], (int)r[1])).Select(g => g.Sum(r => (double)r[3]));
        Assert.All(sums, s => Assert.Equal(1.0, s, 6));
        Assert.Contains(ctx.Metrics, m => m.Metric == "train_loss");
        // train_loss is what the optimiser minimised: the task loss plus the weighted auxiliary loss.
        foreach (var row in ctx.Metrics.Where(m => m.Metric == "train_loss"))
        {
            double task = ctx.Metrics.Single(m => m.Arm == row.Arm && m.Step == row.Step && m.Metric == "task_loss").Value;
            double aux = ctx.Metrics.Single(m => m.Arm == row.Arm && m.Step == row.Step && m.Metric == "aux_loss").Value;
            Assert.Equal(task + aux, row.Value, 4);
        }
        Assert.Contains(ctx.Metrics, m => m.Metric == "val_accuracy");
        Assert.Single(ctx.Figures);
    }

    [Fact]
    public void SameSeedGivesSameNumbers()
    {
        var experiment = new DynaMoeImagesExperiment();
        var config = experiment.TypedPresets["smoke"] with
        {
            Arms = new DynaMoeArmsConfig { Dense = false, Schedules = ["descending"], BudgetModes = ["matched"], UniformPerTokenPercentile = false, TopP = false },
        };
        var a = new InMemoryRunContext("dynamoe", "smoke", 5);
        experiment.Run(config, a);
        var b = new InMemoryRunContext("dynamoe", "smoke", 5);
        experiment.Run(config, b);
        foreach (string arm in a.SummaryByArm.Keys)
        {
            Assert.Equal(a.SummaryByArm[arm].Values["test_loss"], b.SummaryByArm[arm].Values["test_loss"]);
            Assert.Equal(a.SummaryByArm[arm].Values["grad_var_final"], b.SummaryByArm[arm].Values["grad_var_final"]);
        }
    }

    [Fact]
    public void LmSmokePresetRunsEndToEnd()
    {
        var experiment = new DynaMoeLmExperiment();
        var config = experiment.TypedPresets["smoke"];
        Assert.Empty(experiment.Validate(config));
        var ctx = new InMemoryRunContext("dynamoe", "smoke", 2);
        experiment.Run(config, ctx);
        foreach (var arm in DynaMoeArm.Enumerate(config.Model, config.Arms))
        {
            double ppl = ctx.SummaryByArm[arm.Name].Values["test_perplexity"];
            Assert.True(double.IsFinite(ppl) && ppl > 1, $"{arm.Name}: perplexity {ppl}");
        }
        Assert.Contains(ctx.LogLines, l => l.StartsWith("corpus: 40 of"));
    }

    [Fact]
    public void MnistIsReportedUnavailableWithHowToGetIt()
    {
        if (ImageDataSources.IsAvailable(ImageDataSources.Mnist)) return; // a machine with MNIST configured
        var experiment = new DynaMoeImagesExperiment();
        var e = Assert.Throws<DataUnavailableException>(() =>
            experiment.Run(experiment.TypedPresets["smoke"] with { Dataset = ImageDataSources.Mnist }, new InMemoryRunContext("dynamoe", "smoke", 1)));
        Assert.Contains("MOELAB_MNIST_DIR", e.Message);
    }

    [Fact]
    public void BadKeysAreRefusedNamingKeyValueAndWhatIsAllowed()
    {
        var experiment = new DynaMoeImagesExperiment();
        var e = Assert.Throws<ConfigException>(() => ConfigBinder.Resolve(experiment, "smoke",
            sets: ["dataset=imagenet", "model.tau=1.5", "arms.schedules=[zigzag,descending]", "model.topK=9", "train.batchSize=0"]));
        Assert.Contains(e.Problems, p => p.Contains("'dataset' = 'imagenet'") && p.Contains("fashion-mnist"));
        Assert.Contains(e.Problems, p => p.Contains("'model.tau' = 1.5") && p.Contains("< 1"));
        Assert.Contains(e.Problems, p => p.Contains("'arms.schedules' = [\"zigzag\", \"descending\"]") && p.Contains("uniform, descending"));
        Assert.Contains(e.Problems, p => p.Contains("'model.topK' = 9") && p.Contains("meanExperts"));
        Assert.Contains(e.Problems, p => p.Contains("'train.batchSize' = 0"));
    }

    [Fact]
    public void AllowedScheduleNamesAreTheCapacityScheduleShapes()
    {
        var attribute = typeof(DynaMoeArmsConfig).GetProperty(nameof(DynaMoeArmsConfig.Schedules))!
            .GetCustomAttributes(typeof(EachOfAttribute), false).Cast<EachOfAttribute>().Single();
        Assert.Equal(MoeLab.Models.Schedules.CapacitySchedule.ShapeNames.Order(), attribute.Allowed.Order());
    }
}
