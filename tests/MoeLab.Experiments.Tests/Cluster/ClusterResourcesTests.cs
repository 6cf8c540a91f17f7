using MoeLab.Experiments.Cluster;
using MoeLab.Experiments.Runtime;

namespace MoeLab.Experiments.Tests.Cluster;

public class ClusterResourcesTests
{
    [Fact]
    public void Array_specs_compress_runs_of_indices_and_parse_back()
    {
        Assert.Equal("0-5%2", ArraySpec.Format([0, 1, 2, 3, 4, 5], 2));
        Assert.Equal("1,3,7-9", ArraySpec.Format([9, 3, 1, 8, 7, 3]));
        Assert.Equal("4", ArraySpec.Format([4]));
        Assert.Equal(new[] { 1, 3, 7, 8, 9 }, ArraySpec.Parse("1,3,7-9%4"));
        Assert.Throws<ArgumentException>(() => ArraySpec.Format([]));
    }

    [Fact]
    public void Slurm_times_and_memory_are_checked_and_converted()
    {
        Assert.Equal(30 * 60, ClusterResources.TimeSeconds("30"));
        Assert.Equal(90, ClusterResources.TimeSeconds("1:30"));
        Assert.Equal(2 * 3600 + 5, ClusterResources.TimeSeconds("2:00:05"));
        Assert.Equal(86400 + 2 * 3600, ClusterResources.TimeSeconds("1-2"));
        Assert.Equal(86400 + 2 * 3600 + 3 * 60 + 4, ClusterResources.TimeSeconds("1-02:03:04"));
        Assert.Null(ClusterResources.TimeSeconds("2h"));
        Assert.Equal("4Gi", new ClusterResources(null, "4G", null, null).KubernetesMemory());
        Assert.Equal("4000Mi", new ClusterResources(null, "4000", null, null).KubernetesMemory());
        Assert.Equal("512Ki", new ClusterResources(null, "512k", null, null).KubernetesMemory());

        var e = Assert.Throws<ConfigException>(() => new ClusterResources(0, "4 GB", "2h", 0).Validated());
        Assert.Contains("--cpus-per-task 0: allowed 1 … 4096.", e.Problems);
        Assert.Contains(e.Problems, p => p.StartsWith("--mem '4 GB': expected a number with an optional unit K, M, G or T"));
        Assert.Contains(e.Problems, p => p.StartsWith("--time '2h': expected minutes, MM:SS, HH:MM:SS"));
        Assert.Contains("--max-parallel 0: allowed 1 … 100000.", e.Problems);
    }
}
