using k8s;
using k8s.Models;
using MoeLab.Experiments.Cli;
using MoeLab.Experiments.Cluster;
using MoeLab.Experiments.Runtime;
using MoeLab.Experiments.Tests.Runtime;

namespace MoeLab.Experiments.Tests.Cluster;

/// <summary>`moelab sweep --backend k8s --emit` round trip: the YAML deserialises strictly into the
/// official Kubernetes models (KubernetesClient's V1Job) with the fields an Indexed Job needs, and
/// the container command, with the completion index filled in as Kubernetes does, runs that index.</summary>
// Serial with the child-process tests: training in this process while other test classes train in
// parallel has, rarely, failed inside LibTorch (a scalar conversion error), so these runs get the process to themselves.
[Collection(ChildProcessCollection.Name)]
public class KubernetesManifestTests
{
    [Fact]
    public void Emitted_indexed_job_deserialises_into_V1Job_and_its_command_runs_the_index()
    {
        using var dir = new TempDir();
        string yamlPath = Path.Combine(dir.Path, "job.yaml");
        int code = Program.BuildRoot().Parse([
            "sweep", "toy-regression", "--results", dir.Path, "--grid", "model.experts=2,3", "--seeds", "2",
            "--set", "train.steps=20", "--backend", "k8s", "--emit", yamlPath, "--image", "registry.example/moelab:1.0",
            "--pvc", "moelab-results", "--cpus-per-task", "2", "--mem", "3G", "--time", "1:30:00", "--max-parallel", "3", "--device", "cpu",
        ]).Invoke();
        Assert.Equal(0, code);
        string sweepDir = Directory.GetDirectories(Path.Combine(dir.Path, "toy-regression")).Single();
        Assert.Equal(4, SweepTaskList.Read(sweepDir).Tasks.Count);

        string yaml = File.ReadAllText(yamlPath);
        Assert.DoesNotMatch(@"(?m)(: |- )[&*]\w", yaml); // plain YAML: no anchors or aliases
        var job = KubernetesYaml.Deserialize<V1Job>(yaml, strict: true);
        Assert.Equal("batch/v1", job.ApiVersion);
        Assert.Equal(job.Metadata.Labels, job.Spec.Template.Metadata.Labels);
        Assert.Equal(Path.GetFileName(sweepDir), job.Metadata.Labels["moelab/sweep"]);
        Assert.Equal("Job", job.Kind);
        Assert.Equal($"moelab-toy-regression-{Path.GetFileName(sweepDir)}", job.Metadata.Name);
        Assert.True(job.Metadata.Name.Length <= 52);
        Assert.Equal("Indexed", job.Spec.CompletionMode);
        Assert.Equal(4, job.Spec.Completions);
        Assert.Equal(3, job.Spec.Parallelism);
        var pod = job.Spec.Template.Spec;
        Assert.Equal("OnFailure", pod.RestartPolicy);
        Assert.Equal(5400L, pod.ActiveDeadlineSeconds);
        Assert.Equal(KubernetesJobManifest.TerminationGraceSeconds, pod.TerminationGracePeriodSeconds);
        var container = Assert.Single(pod.Containers);
        Assert.Equal("registry.example/moelab:1.0", container.Image);
        Assert.Equal(new[] { "moelab", "sweep-task", sweepDir, "$(JOB_COMPLETION_INDEX)", "--device", "cpu" }, container.Command);
        var indexVar = container.Env.Single(e => e.Name == "JOB_COMPLETION_INDEX");
        Assert.Equal("metadata.annotations['batch.kubernetes.io/job-completion-index']", indexVar.ValueFrom.FieldRef.FieldPath);
        Assert.Equal("2", container.Env.Single(e => e.Name == "OMP_NUM_THREADS").Value);
        Assert.Equal("0", container.Env.Single(e => e.Name == "MALLOC_MMAP_MAX_").Value);
        Assert.Equal("1", container.Env.Single(e => e.Name == "MALLOC_ARENA_MAX").Value);
        Assert.Equal("30000", container.Env.Single(e => e.Name == "GOMP_SPINCOUNT").Value);
        Assert.Equal(new ResourceQuantity("2"), container.Resources.Requests["cpu"]);
        Assert.Equal(new ResourceQuantity("3Gi"), container.Resources.Requests["memory"]);
        Assert.Equal(new ResourceQuantity("3Gi"), container.Resources.Limits["memory"]);
        var mount = Assert.Single(container.VolumeMounts);
        Assert.Equal(dir.Path, mount.MountPath); // the results root: the sweep has the same path in the pod
        var volume = Assert.Single(pod.Volumes);
        Assert.Equal(mount.Name, volume.Name);
        Assert.Equal("moelab-results", volume.PersistentVolumeClaim.ClaimName);

        // What pod 2 runs: Kubernetes substitutes $(JOB_COMPLETION_INDEX) from the env var declared above.
        var args = container.Command.Skip(1).Select(a => a == "$(JOB_COMPLETION_INDEX)" ? "2" : a).ToArray();
        Assert.Equal(0, Program.BuildRoot().Parse(args).Invoke());
        var report = SweepStatusReport.Read(sweepDir, scheduler: null);
        Assert.Equal(new[] { "pending", "pending", "completed", "pending" }, report.Indices.Select(i => i.State));
    }

    [Fact]
    public void A_mount_that_does_not_hold_the_sweep_is_refused()
    {
        var o = new KubernetesOptions("img", "pvc", "/data", ["moelab"], new ClusterResources(null, null, null, null));
        var e = Assert.Throws<ConfigException>(() => KubernetesJobManifest.Build("sweep-1", "toy-regression", "/results/toy-regression/sweep-1", 2, o));
        Assert.Contains("--mount '/data': the sweep directory '/results/toy-regression/sweep-1' is not under it", e.Message);
        var yaml = KubernetesJobManifest.Build("sweep-1", "toy-regression", "/results/toy-regression/sweep-1", 2, o with { MountPath = "/results" });
        var job = KubernetesYaml.Deserialize<V1Job>(yaml, strict: true);
        Assert.Null(job.Spec.Template.Spec.Containers[0].Resources); // no --cpus-per-task/--mem: no requests
        Assert.Equal(2, job.Spec.Parallelism);
    }
}
