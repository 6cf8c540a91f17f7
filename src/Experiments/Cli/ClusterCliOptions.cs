using System.CommandLine;
using MoeLab.Experiments.Cluster;
using MoeLab.Experiments.Runtime;

namespace MoeLab.Experiments.Cli;

/// <summary>The options of `moelab sweep` that choose and configure a cluster backend.</summary>
internal sealed class ClusterCliOptions
{
    public readonly Option<string> Backend = new("--backend")
    {
        Description = "Where the runs execute: local (one after another in this process, the default), slurm (ONE array job, " +
                      "one task per run, submitted with sbatch) or k8s (write an Indexed Job manifest with --emit; nothing is submitted).",
        DefaultValueFactory = _ => "local",
    };

    public readonly Option<string?> Partition = new("--partition") { Description = "slurm: the partition to submit to (default: the cluster's default)." };
    public readonly Option<string?> Time = new("--time") { Description = "slurm/k8s: wall-time limit per task, Slurm's format: minutes, HH:MM:SS, D-HH:MM:SS." };
    public readonly Option<int?> CpusPerTask = new("--cpus-per-task") { Description = "slurm/k8s: CPUs per task (also the task's LibTorch threads)." };
    public readonly Option<string?> Mem = new("--mem") { Description = "slurm/k8s: memory per task, e.g. 4G or 4000 (MiB)." };
    public readonly Option<int?> MaxParallel = new("--max-parallel") { Description = "slurm/k8s: at most this many tasks at once (Slurm's --array=...%K; the Job's parallelism)." };

    public readonly Option<string[]> SbatchArg = new("--sbatch-arg")
    {
        Description = "slurm: one more sbatch option for the batch script, repeatable: --sbatch-arg=--requeue --sbatch-arg=--account=lab.",
        AllowMultipleArgumentsPerToken = false,
    };

    public readonly Option<bool> DryRun = new("--dry-run") { Description = "slurm: print the batch script; write and submit nothing." };
    public readonly Option<string?> Emit = new("--emit") { Description = "k8s: write the Indexed Job YAML to this file ('-': standard output)." };
    public readonly Option<string?> Image = new("--image") { Description = "k8s: the container image with this build of moelab." };
    public readonly Option<string?> Pvc = new("--pvc") { Description = "k8s: the PersistentVolumeClaim holding the results root." };
    public readonly Option<string?> Mount = new("--mount") { Description = "k8s: where the claim is mounted in the container (default: the results root's absolute path)." };

    public readonly Option<string> ContainerCommand = new("--container-command")
    {
        Description = "k8s: what starts moelab in the image, e.g. \"dotnet /app/MoeLab.Experiments.dll\" (default: moelab).",
        DefaultValueFactory = _ => "moelab",
    };

    public ClusterCliOptions()
    {
        Backend.AcceptOnlyFromAmong("local", "slurm", "k8s");
    }

    public IEnumerable<Option> All =>
        [Backend, Partition, Time, CpusPerTask, Mem, MaxParallel, SbatchArg, DryRun, Emit, Image, Pvc, Mount, ContainerCommand];

    public ClusterResources Resources(ParseResult pr) =>
        new ClusterResources(pr.GetValue(CpusPerTask), pr.GetValue(Mem), pr.GetValue(Time), pr.GetValue(MaxParallel)).Validated();

    /// <summary>Refuses options that do not belong to the chosen backend, naming each.</summary>
    public void CheckFor(string backend, ParseResult pr)
    {
        Option[] slurmOnly = [Partition, SbatchArg, DryRun];
        Option[] k8sOnly = [Emit, Image, Pvc, Mount, ContainerCommand];
        Option[] anyCluster = [Time, CpusPerTask, Mem, MaxParallel];
        var problems = new List<string>();
        void Refuse(IEnumerable<Option> options, string why)
        {
            foreach (var o in options)
                if (pr.GetResult(o) is { Implicit: false })
                    problems.Add($"{o.Name} {why}");
        }
        switch (backend)
        {
            case "local":
                Refuse(slurmOnly, "is for --backend slurm; this sweep runs locally (--backend local).");
                Refuse(k8sOnly, "is for --backend k8s; this sweep runs locally (--backend local).");
                Refuse(anyCluster, "is for --backend slurm or k8s; this sweep runs locally (--backend local).");
                break;
            case "slurm":
                Refuse(k8sOnly, "is for --backend k8s, not slurm.");
                break;
            case "k8s":
                Refuse(slurmOnly, "is for --backend slurm, not k8s.");
                if (pr.GetValue(Emit) is null) problems.Add("--backend k8s needs --emit <file>: the Indexed Job manifest is written, not submitted.");
                if (pr.GetValue(Image) is null) problems.Add("--backend k8s needs --image <image>: the container image with this build of moelab.");
                if (pr.GetValue(Pvc) is null) problems.Add("--backend k8s needs --pvc <claim>: the PersistentVolumeClaim holding the results root.");
                break;
        }
        if (problems.Count > 0) throw new ConfigException(problems);
    }
}
