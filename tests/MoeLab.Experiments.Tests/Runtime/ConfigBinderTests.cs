using MoeLab.Experiments.Examples;
using MoeLab.Experiments.Runtime;
using MoeLab.Experiments.Training;

namespace MoeLab.Experiments.Tests.Runtime;

public class ConfigBinderTests
{
    private static ConfigException Bad(params string[] sets) => Assert.Throws<ConfigException>(() => Toy.Smoke(sets));

    [Fact]
    public void Overrides_set_nested_values_of_every_supported_type()
    {
        var c = Toy.Config("model.experts=16", "train.lr=3e-4", "model.hiddenSizes=[3,5,5,5]", "train.schedule=warmupstabledecay",
            "saveFigures=true", "model.activation=Gelu", "train.optimizer=sgd");
        Assert.Equal(16, c.Model.Experts);
        Assert.Equal(3e-4, c.Train.Lr);
        Assert.Equal(new[] { 3, 5, 5, 5 }, c.Model.HiddenSizes);
        Assert.Equal(ScheduleKind.WarmupStableDecay, c.Train.Schedule);
        Assert.True(c.SaveFigures);
        Assert.Equal(ToyActivation.Gelu, c.Model.Activation);
        Assert.Equal(OptimizerKind.Sgd, c.Train.Optimizer);
        // Untouched keys keep the preset's values.
        Assert.Equal(Toy.Experiment.TypedPresets["smoke"].Data, c.Data);
    }

    [Fact]
    public void Keys_match_case_insensitively_and_ignore_dashes_and_lists_need_no_brackets()
    {
        var c = Toy.Config("Model.Experts=3", "train.warmup-steps=7", "model.hidden_sizes=4,6");
        Assert.Equal(3, c.Model.Experts);
        Assert.Equal(7, c.Train.WarmupSteps);
        Assert.Equal(new[] { 4, 6 }, c.Model.HiddenSizes);
    }

    [Fact]
    public void Unknown_key_names_key_value_and_suggests_close_names()
    {
        var e = Bad("model.expert=16");
        Assert.Contains("unknown key 'model.expert'", e.Message);
        Assert.Contains("'16'", e.Message);
        Assert.Contains("Did you mean 'model.experts'", e.Message);
        Assert.Contains("Keys under 'model': experts, hiddenSizes, activation", e.Message);

        var top = Bad("lr=0.1");
        Assert.Contains("'train.lr'", top.Message);
    }

    [Fact]
    public void Wrong_type_names_key_value_and_expected_type()
    {
        var e = Bad("model.experts=many");
        Assert.Contains("'model.experts' = 'many' is not an integer (int)", e.Message);

        var en = Bad("train.schedule=linear");
        Assert.Contains("'train.schedule' = 'linear' is not one of: Constant, WarmupCosine, WarmupStableDecay", en.Message);

        var b = Bad("saveFigures=yes");
        Assert.Contains("'saveFigures' = 'yes' is not a boolean (allowed: true, false)", b.Message);

        var list = Bad("model.hiddenSizes=[8,x]");
        Assert.Contains("'model.hiddenSizes' = 'x' is not an integer (int)", list.Message);

        var big = Bad("data.trainSize=99999999999");
        Assert.Contains("'data.trainSize' = '99999999999' is not an integer in -2147483648…2147483647 (int)", big.Message);

        var frac = Bad("train.steps=2.5");
        Assert.Contains("'train.steps' = '2.5' is not an integer", frac.Message);
    }

    [Fact]
    public void Out_of_range_names_key_value_and_allowed_range()
    {
        var e = Bad("model.experts=0");
        Assert.Equal("--set model.experts=0: 'model.experts' = 0 is out of range: allowed 1 … 64.", e.Message);

        var cross = Bad("train.warmupSteps=500");
        Assert.Equal("--set train.warmupSteps=500: 'train.warmupSteps' = 500 must be ≤ 'train.steps' = 60.", cross.Message);

        var width = Bad("model.hiddenSizes=[8,0]");
        Assert.Contains("'model.hiddenSizes' contains 0; allowed widths: 1 … 4096.", width.Message);
    }

    [Fact]
    public void All_problems_are_reported_together()
    {
        var e = Bad("model.expert=2", "train.lr=fast");
        Assert.Equal(2, e.Problems.Count);
        Assert.Contains(e.Problems, p => p.Contains("model.expert"));
        Assert.Contains(e.Problems, p => p.Contains("train.lr") && p.Contains("fast"));
    }

    [Fact]
    public void Malformed_set_unknown_preset_and_sub_key_of_a_leaf_are_errors()
    {
        Assert.Contains("expected key=value", Assert.Throws<ConfigException>(() => ConfigOverride.Parse("model.experts")).Message);
        var p = Assert.Throws<ConfigException>(() => ConfigBinder.Resolve(Toy.Experiment, "huge"));
        Assert.Contains("Unknown preset 'huge'", p.Message);
        Assert.Contains("smoke, cpu, paper", p.Message);
        Assert.Contains("'train.lr' is a number (double) and has no sub-keys", Bad("train.lr.max=3").Message);
    }

    [Fact]
    public void Json_and_yaml_files_override_and_set_wins_over_file()
    {
        using var dir = new TempDir();
        string yaml = Path.Combine(dir.Path, "o.yaml");
        File.WriteAllText(yaml, "model:\n  experts: 5\n  hiddenSizes: [4, 4]\ntrain:\n  schedule: Constant\n  lr: 0.002\n");
        string json = Path.Combine(dir.Path, "o.json");
        File.WriteAllText(json, "{ \"model\": { \"experts\": 6 }, \"train.lr\": 0.5 }");

        var y = (ToyRegressionConfig)ConfigBinder.Resolve(Toy.Experiment, "smoke", yaml, ["train.lr=0.003"]).Config;
        Assert.Equal(5, y.Model.Experts);
        Assert.Equal(new[] { 4, 4 }, y.Model.HiddenSizes);
        Assert.Equal(ScheduleKind.Constant, y.Train.Schedule);
        Assert.Equal(0.003, y.Train.Lr);

        var j = (ToyRegressionConfig)ConfigBinder.Resolve(Toy.Experiment, "smoke", json).Config;
        Assert.Equal(6, j.Model.Experts);
        Assert.Equal(0.5, j.Train.Lr);

        File.WriteAllText(yaml, "model:\n  expertz: 5\n");
        var e = Assert.Throws<ConfigException>(() => ConfigBinder.Resolve(Toy.Experiment, "smoke", yaml));
        Assert.Contains("o.yaml: model.expertz", e.Message);
        Assert.Contains("Did you mean 'model.experts'", e.Message);
    }

    [Fact]
    public void Resolved_config_round_trips_through_its_json_and_hash_is_stable()
    {
        var a = Toy.Smoke("model.experts=3");
        var b = Toy.Smoke("model.experts=3");
        var other = Toy.Smoke("model.experts=4");
        Assert.Equal(a.Hash, b.Hash);
        Assert.NotEqual(a.Hash, other.Hash);
        var back = (ToyRegressionConfig)ConfigBinder.FromJson(Toy.Experiment, a.Json);
        Assert.Equal(ConfigBinder.ToJson(a.Config), ConfigBinder.ToJson(back));
    }

    [Fact]
    public void Bad_override_on_the_command_line_runs_nothing()
    {
        using var dir = new TempDir();
        string results = Path.Combine(dir.Path, "results");
        int code = MoeLab.Experiments.Cli.Program.BuildRoot()
            .Parse(["run", "toy-regression", "--set", "model.experts=0", "--results", results, "--device", "cpu"]).Invoke();
        Assert.Equal(2, code);
        Assert.False(Directory.Exists(results));
    }
}
