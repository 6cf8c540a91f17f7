namespace MoeLab.Experiments.Cluster;

/// <summary>How `moelab sweep --backend k8s` writes its Indexed Job.</summary>
/// <param name="Image">--image: the container image that has this build of moelab.</param>
/// <param name="Pvc">--pvc: the PersistentVolumeClaim that holds the results root (with the sweep directory).</param>
/// <param name="MountPath">--mount: where the claim is mounted in the container; the sweep directory's
/// absolute path must lie under it and be the same inside the container (default: the results root).</param>
/// <param name="Command">--container-command: what starts moelab in the image (default: moelab).</param>
/// <param name="Device">--device for each task (null: the task's default, auto).</param>
public sealed record KubernetesOptions(string Image, string Pvc, string MountPath, IReadOnlyList<string> Command, ClusterResources Resources,
    string? Device = null);
