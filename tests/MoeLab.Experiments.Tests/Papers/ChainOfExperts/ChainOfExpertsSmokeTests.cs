using MoeLab.Experiments.Papers.ChainOfExperts;
using MoeLab.Experiments.Runtime;
using MoeLab.Models.Layers;

namespace MoeLab.Experiments.Tests.Papers.ChainOfExperts;

[CollectionDefinition(nameof(ChainOfExpertsSmokeTests), DisableParallelization = true)]
public sealed class ChainOfExpertsSmokeCollection;

[Collection(nameof(ChainOfExpertsSmokeTests))]
public sealed class ChainOfExpertsSmokeTests
{
    /// <summary>All twelve arms (≈ 10–30 s on the shared 2-core machine: Slow); the resume test and the
    /// notebook test run a few arms end to end in the default suite.</summary>
    [Fact]
    [Trait("Category", "Slow")]
    public void SmokePresetRunsEveryArmEndToEnd()
    {
        var experiment = new ChainOfExpertsExperiment();
        var config = experiment.TypedPresets["smoke"];
        Assert.Empty(experiment.Validate(config));
        var ctx = new InMemoryRunContext("chain-of-experts", "smoke", 1);
        experiment.Run(config, ctx);

        Assert.Equal(ChainOfExpertsArm.AllNames, ctx.Summary.Select(r => r.Arm));
        var v = ctx.SummaryByArm.ToDictionary(kv => kv.Key, kv => kv.Value.Values);
        foreach (var (arm, values) in v)
        {
            Assert.True(double.IsFinite(values["val_loss"]) && values["val_loss"] > 0, arm);
            Assert.Equal(config.Train.Steps, values["steps"]);
            Assert.True(values["tokens_per_second"] > 0 && values["peak_rss_mib"] > 0, arm);
            // the held-out loss was logged during training too, and the last logged value is the final one
            var curve = ctx.Series("val_loss", arm);
            Assert.Equal(values["val_loss"], curve[^1].Value, 9);
        }
        // FLOPs: C = 2 with K doubles the slot's compute; C = 2 with K/2 has the same routed compute but
        // runs the shared expert and the router twice
        double ffn(string a) => v[a]["ffn_flops_per_token"];
        Assert.Equal(2 * ffn("moe-k"), ffn("coe-c2-k"), 6);
        var m = config.Model;
        double expert = 2.0 * (m.DModel * 2 * m.ExpertHidden + m.ExpertHidden * m.DModel);
        double router = 2.0 * m.DModel * m.Experts;
        Assert.Equal(m.Layers * (router + m.K * expert + expert), ffn("moe-k"), 6);
        Assert.Equal(m.Layers * 2 * (router + m.K / 2 * expert + expert), ffn("coe-c2-half-k"), 6);
        Assert.Equal(ffn("moe-k") - m.Layers * router, ffn("dense-c1"), 6);   // dense of width (K + 1) experts: MoE(K) without the router
        Assert.Equal(2 * ffn("dense-c1"), ffn("dense-c2"), 6);
        Assert.Equal(v["moe-k"]["total_params"] + m.Layers * m.DModel * m.Experts, v["coe-c2-k"]["total_params"]); // one more router per layer
        Assert.Equal(v["moe-k"]["total_params"], v["coe-c2-k-shared-router"]["total_params"]);
        Assert.True(v["coe-c2-half-k-fewer-experts"]["total_params"] < v["coe-c2-half-k"]["total_params"]);
        Assert.Equal(3 * m.Layers, v["moe-k-3x-layers"]["layers"]);
        // overlap: measured for every C = 2 routed arm, per layer, against chance
        foreach (string arm in new[] { "coe-c2-half-k", "coe-c2-k", "coe-c2-half-k-fewer-experts", "coe-c2-k-shared-router", "coe-c2-k-outer-residual" })
        {
            Assert.InRange(v[arm]["overlap_jaccard"], 0.0, 1.0);
            Assert.True(v[arm]["overlap_chance_jaccard"] > 0);
        }
        Assert.False(v["moe-k"].ContainsKey("overlap_jaccard"));
        var overlap = ctx.Tables["overlap"];
        Assert.Equal(5 * m.Layers, overlap.Rows.Count);
    }

    [Fact]
    public void ConfigErrorsNameTheKey()
    {
        var experiment = new ChainOfExpertsExperiment();
        var smoke = experiment.TypedPresets["smoke"];
        foreach (var (name, preset) in experiment.TypedPresets) Assert.True(experiment.Validate(preset).Count == 0, $"preset {name} is invalid");
        Assert.Contains(experiment.Validate(smoke with { Model = smoke.Model with { K = 3 } }), p => p.StartsWith("model.k = 3"));
        Assert.Contains(experiment.Validate(smoke with { Arms = ["moe-k", "nope"] }), p => p.Contains("unknown arm 'nope'"));
        Assert.Contains(experiment.Validate(smoke with { Model = smoke.Model with { FewerExperts = 8 } }), p => p.StartsWith("model.fewerExperts"));
        var e = Assert.Throws<ConfigException>(() => ConfigBinder.Resolve(experiment, "smoke", sets: new[] { "model.experts=0" }));
        Assert.Contains("model.experts", e.Message);
    }

    [Fact]
    public void ArmsMirrorTheOfficialLayerPath()
    {
        var m = ChainOfExpertsExperiment.Smoke.Model;
        var moe = (ChainOfExpertsOptions)ChainOfExpertsArm.Of("moe-k", m).Slot(m);
        Assert.Equal(1, moe.Iterations);
        Assert.False(moe.OuterResidual);                    // the baseline goes through the same path as CoE
        Assert.False(moe.Moe.Router.Renormalize);           // raw top-K probabilities
        Assert.Null(moe.Moe.CapacityFactor);                // dropless
        Assert.Equal(1, moe.Moe.SharedExperts);
        var half = (ChainOfExpertsOptions)ChainOfExpertsArm.Of("coe-c2-half-k", m).Slot(m);
        Assert.Equal((2, m.K / 2), (half.Iterations, half.Moe.Router.K));
        Assert.True(((ChainOfExpertsOptions)ChainOfExpertsArm.Of("coe-c2-k-shared-router", m).Slot(m)).ShareRouter);
        Assert.True(((ChainOfExpertsOptions)ChainOfExpertsArm.Of("coe-c2-k-outer-residual", m).Slot(m)).OuterResidual);
        var dense = (IteratedFeedForwardOptions)ChainOfExpertsArm.Of("dense-c2", m).Slot(m);
        Assert.Equal((2, (m.K + 1) * m.ExpertHidden), (dense.Iterations, dense.DHidden));
    }
}
