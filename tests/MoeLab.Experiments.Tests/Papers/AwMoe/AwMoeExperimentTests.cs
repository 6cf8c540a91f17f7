using MoeLab.Experiments.Data.Ctr;
using MoeLab.Experiments.Papers.AwMoe;
using MoeLab.Experiments.Runtime;
using MoeLab.Experiments.Tests.Runtime;

namespace MoeLab.Experiments.Tests.Papers.AwMoe;

/// <summary>Runs alone (the experiment sets torch's thread count and seeds torch's global generator).</summary>
[CollectionDefinition(nameof(AwMoeExperimentTests), DisableParallelization = true)]
public sealed class AwMoeCollection;

[Collection(nameof(AwMoeExperimentTests))]
public sealed class AwMoeExperimentTests
{
    /// <summary>The smoke preset, smaller still: ≈ 15 steps per arm.</summary>
    private static AwMoeConfig Tiny => AwMoeExperiment.Smoke with
    {
        Data = AwMoeExperiment.Smoke.Data with { Synthetic = AwMoeExperiment.Smoke.Data.Synthetic with { Users = 300 } },
        Train = AwMoeExperiment.Smoke.Train with { CheckpointEvery = 4, EvalEvery = 8 },
    };

    private static readonly string[] ArmNames = Enum.GetValues<AwMoeArm>().Select(AwMoeExperiment.ArmName).ToArray();

    [Fact]
    public void TinyRunEndToEndReportsEveryArmAndMetric()
    {
        var experiment = new AwMoeExperiment();
        Assert.Empty(experiment.Validate(Tiny));
        var ctx = new InMemoryRunContext("aw-moe", "smoke", 1);
        experiment.Run(Tiny, ctx);
        Assert.Equal(ArmNames, ctx.Summary.Select(r => r.Arm));
        foreach (var row in ctx.Summary)
        {
            var v = row.Values;
            foreach (string key in new[] { "test_auc", "test_gauc", "test_ndcg5", "val_auc", "test_auc_longtail", "test_gauc_longtail", "test_auc_head" })
                Assert.InRange(v[key], 0.0, 1.0);
            Assert.InRange(v["parameter_ratio"], 0.95, 1.05);
            bool mixture = row.Arm.Contains("moe");
            Assert.Equal(mixture, v.ContainsKey("test_nmi_expert_persona"));
            if (mixture)
            {
                Assert.InRange(v["test_nmi_expert_persona"], 0.0, 1.0);
                Assert.InRange(v["test_gate_cosine_keep1"], 0.0, 1.0 + 1e-9); // gates are non-negative vectors
            }
        }
        // The gate of the feature-only MoE does not look at the sequence: truncation cannot move it.
        Assert.Equal(1.0, ctx.SummaryByArm["moe-feature-gate"].Values["test_gate_cosine_keep1"], 6);
        Assert.Contains(ctx.Metrics, m => m.Arm == "aw-moe" && m.Metric == "val_auc");
        Assert.Equal(["data", "gate_similarity", "parameters"], ctx.Tables.Keys.Order());
        Assert.True(ctx.SummaryByArm["dnn"].Values["test_logloss"] > 0);
    }

    [Fact]
    public void InterruptedAndResumedRunEqualsUninterruptedRun()
    {
        var experiment = new AwMoeExperiment();
        var config = Tiny with { Arms = [AwMoeArm.Din, AwMoeArm.AwMoe, AwMoeArm.MoeMeanPoolGate] };
        var full = new InMemoryRunContext("aw-moe", "smoke", 2);
        experiment.Run(config, full);

        var store = new InMemoryCheckpointStore();
        using (var cts = new CancellationTokenSource())
        {
            var first = new InMemoryRunContext("aw-moe", "smoke", 2, checkpoints: store, cancellation: cts.Token, progress: new CancelAtStep(cts, 6, phase: "aw-moe"));
            Assert.ThrowsAny<OperationCanceledException>(() => experiment.Run(config, first));
            Assert.Equal(["din"], first.Summary.Select(r => r.Arm));
        }
        var second = new InMemoryRunContext("aw-moe", "smoke", 2, checkpoints: store);
        experiment.Run(config, second);
        Assert.Contains(second.LogLines, l => l.Contains("din: finished before this resume"));
        Assert.Contains(second.LogLines, l => l.Contains("aw-moe: resuming from checkpoint"));
        Assert.Equal(full.Summary.Select(r => r.Arm), second.Summary.Select(r => r.Arm));
        foreach (var row in full.Summary)
        {
            var resumed = second.SummaryByArm[row.Arm];
            Assert.Equal(row.Values.Keys.Order(), resumed.Values.Keys.Order());
            foreach (var (k, v) in row.Values) Assert.True(v.Equals(resumed.Values[k]), $"{row.Arm} {k}: {v:R} vs {resumed.Values[k]:R}");
            Assert.Equal(row.Labels, resumed.Labels);
        }
        // The resumed arm's history from the checkpoint on equals the uninterrupted one's.
        var tail = full.Metrics.Where(m => m.Arm == "aw-moe" && m.Step > 6).ToList();
        Assert.Equal(tail, second.Metrics.Where(m => m.Arm == "aw-moe" && m.Step > 6).ToList());
    }


    [Fact]
    public void ConfigValidationNamesKeyValueAndRule()
    {
        var experiment = new AwMoeExperiment();
        var range = Assert.Throws<ConfigException>(() => ConfigBinder.Resolve(experiment, "smoke", sets: ["contrastive.maskRatio=1.5"]));
        Assert.Contains("contrastive.maskRatio", range.Message);
        var enumValue = Assert.Throws<ConfigException>(() => ConfigBinder.Resolve(experiment, "smoke", sets: ["arms=Dnn,Transformer"]));
        Assert.Contains("arms", enumValue.Message);
        Assert.Contains(experiment.Validate(Tiny with { Arms = [] }), p => p.Contains("'arms' is empty"));
        Assert.Contains(experiment.Validate(Tiny with { Data = Tiny.Data with { Source = CtrDataSource.AmazonFiles } }), p => p.Contains("data.amazonDirectory"));
        Assert.Contains(experiment.Validate(Tiny with { Eval = Tiny.Eval with { TruncationLengths = [0] } }), p => p.Contains("eval.truncationLengths"));
        foreach (var preset in experiment.TypedPresets) Assert.Empty(experiment.Validate(preset.Value));
        var resolved = ConfigBinder.Resolve(experiment, "cpu", sets: ["arms=AwMoe", "model.experts=8"]);
        var c = (AwMoeConfig)resolved.Config;
        Assert.Equal([AwMoeArm.AwMoe], c.Arms);
        Assert.Equal(8, c.Model.Experts);
    }

    [Fact]
    public void ArmsHaveEqualParametersWithinFivePercentAtEveryPreset()
    {
        foreach (var (name, preset) in new AwMoeExperiment().TypedPresets)
            foreach (int experts in new[] { 4, 8 })
            {
                var c = preset with { Model = preset.Model with { Experts = experts } };
                var s = c.Data.Synthetic;
                var shape = new CtrData
                {
                    UserFieldCardinalities = [6, 2, 10],
                    ItemFieldCardinalities = [s.Items, s.Categories, s.Brands, 8, 4, 5],
                    UserFieldNames = [], ItemFieldNames = [], UserFields = [], ItemFields = [], Behaviours = [],
                    ImpressionUser = [], ImpressionItem = [], ImpressionHistory = [], Label = [], Time = [], Split = [],
                };
                var options = AwMoeExperiment.ArmOptions(c, shape);
                long target = MoeLab.Models.Recommendation.CtrRanker.Count(options[AwMoeArm.AwMoe]);
                foreach (var (arm, o) in options)
                    Assert.InRange(MoeLab.Models.Recommendation.CtrRanker.Count(o) / (double)target, 0.95, 1.05);
            }
    }

    [Fact]
    public void MissingAmazonFolderFailsWithHowToPointAtIt()
    {
        var experiment = new AwMoeExperiment();
        var config = Tiny with { Data = Tiny.Data with { Source = CtrDataSource.AmazonFiles, AmazonDirectory = "/nonexistent/amazon" } };
        var e = Assert.Throws<DirectoryNotFoundException>(() => experiment.Run(config, new InMemoryRunContext("aw-moe", "smoke", 0)));
        Assert.Contains("data.amazonDirectory", e.Message);
    }
}
