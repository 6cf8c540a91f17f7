namespace MoeLab.Experiments.Cluster;

/// <summary>How `moelab sweep --backend slurm` submits: the resources of each task, the partition,
/// extra sbatch arguments (each written as one #SBATCH line, e.g. --requeue, --account=x), and the
/// --device each task passes to `moelab sweep-task` (null: the task's default, auto).</summary>
public sealed record SlurmOptions(ClusterResources Resources, string? Partition = null, IReadOnlyList<string>? ExtraArgs = null,
    string? Device = null)
{
    public IReadOnlyList<string> Extra => ExtraArgs ?? [];
}
