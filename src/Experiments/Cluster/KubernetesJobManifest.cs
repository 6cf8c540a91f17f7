using System.Globalization;
using System.Text;
using MoeLab.Experiments.Runtime;
using YamlDotNet.Serialization;

namespace MoeLab.Experiments.Cluster;

/// <summary>A Kubernetes Indexed Job (batch/v1) for a sweep: completions = the sweep's task count,
/// parallelism = --max-parallel, and pod i runs <c>moelab sweep-task &lt;sweep-dir&gt; $(JOB_COMPLETION_INDEX)</c>
/// with the results claim mounted so that the sweep directory has the same path inside the container.
/// Resources come from --cpus-per-task (cpu request and LibTorch threads), --mem (memory request and
/// limit) and --time (the pod's activeDeadlineSeconds). A pod that fails is restarted in place
/// (restartPolicy OnFailure) and its task resumes from the run's checkpoint; the grace period gives
/// an evicted task time to checkpoint after SIGTERM. Nothing is submitted: apply the file with kubectl.</summary>
public static class KubernetesJobManifest
{
    /// <summary>Seconds between SIGTERM and SIGKILL when a pod is stopped (time to write a checkpoint).</summary>
    public const int TerminationGraceSeconds = 60;

    public static string Build(string sweepId, string experiment, string sweepDirectory, int completions, KubernetesOptions o)
    {
        string dir = Path.GetFullPath(sweepDirectory);
        string mount = Path.TrimEndingDirectorySeparator(o.MountPath);
        if (!Path.IsPathRooted(mount))
            throw new ConfigException($"--mount '{o.MountPath}': expected an absolute path in the container.");
        if (!(dir + "/").StartsWith(mount + "/", StringComparison.Ordinal))
            throw new ConfigException($"--mount '{o.MountPath}': the sweep directory '{dir}' is not under it; mount the claim at the results root " +
                                      "(or a folder above it) so the task finds the sweep at the same path.");
        if (completions < 1) throw new ConfigException($"The sweep {sweepId} has no task to run.");
        var r = o.Resources;
        string name = JobName(experiment, sweepId);
        // A fresh dictionary per use: a shared one would come out as a YAML anchor and alias.
        Dictionary<string, object?> Labels() => new()
        {
            ["app.kubernetes.io/name"] = "moelab",
            ["moelab/experiment"] = Label(experiment),
            ["moelab/sweep"] = sweepId,
        };
        var env = new List<object>
        {
            new Dictionary<string, object?>
            {
                ["name"] = "JOB_COMPLETION_INDEX",
                ["valueFrom"] = new Dictionary<string, object?>
                {
                    ["fieldRef"] = new Dictionary<string, object?> { ["fieldPath"] = "metadata.annotations['batch.kubernetes.io/job-completion-index']" },
                },
            },
        };
        foreach (var (k, v) in MoelabInvocation.Environment) env.Add(new Dictionary<string, object?> { ["name"] = k, ["value"] = v });
        if (r.CpusPerTask is { } cpus)
            env.Add(new Dictionary<string, object?> { ["name"] = "OMP_NUM_THREADS", ["value"] = cpus.ToString(CultureInfo.InvariantCulture) });

        var container = new Dictionary<string, object?>
        {
            ["name"] = "moelab",
            ["image"] = o.Image,
            ["command"] = o.Command.Concat(["sweep-task", dir, "$(JOB_COMPLETION_INDEX)"])
                .Concat(o.Device is null ? [] : ["--device", o.Device]).Cast<object>().ToList(),
            ["env"] = env,
        };
        var requests = new Dictionary<string, object?>();
        var limits = new Dictionary<string, object?>();
        if (r.CpusPerTask is { } c) requests["cpu"] = c.ToString(CultureInfo.InvariantCulture);
        if (r.KubernetesMemory() is { } mem)
        {
            requests["memory"] = mem;
            limits["memory"] = mem;
        }
        if (requests.Count > 0 || limits.Count > 0)
        {
            var res = new Dictionary<string, object?>();
            if (requests.Count > 0) res["requests"] = requests;
            if (limits.Count > 0) res["limits"] = limits;
            container["resources"] = res;
        }
        container["volumeMounts"] = new List<object> { new Dictionary<string, object?> { ["name"] = "results", ["mountPath"] = mount } };

        var podSpec = new Dictionary<string, object?>
        {
            ["restartPolicy"] = "OnFailure",
            ["terminationGracePeriodSeconds"] = TerminationGraceSeconds,
        };
        if (r.Time is not null) podSpec["activeDeadlineSeconds"] = ClusterResources.TimeSeconds(r.Time);
        podSpec["containers"] = new List<object> { container };
        podSpec["volumes"] = new List<object>
        {
            new Dictionary<string, object?>
            {
                ["name"] = "results",
                ["persistentVolumeClaim"] = new Dictionary<string, object?> { ["claimName"] = o.Pvc },
            },
        };
        var job = new Dictionary<string, object?>
        {
            ["apiVersion"] = "batch/v1",
            ["kind"] = "Job",
            ["metadata"] = new Dictionary<string, object?> { ["name"] = name, ["labels"] = Labels() },
            ["spec"] = new Dictionary<string, object?>
            {
                ["completionMode"] = "Indexed",
                ["completions"] = completions,
                ["parallelism"] = Math.Min(r.MaxParallel ?? completions, completions),
                ["backoffLimit"] = Math.Max(6, 2 * completions),
                ["template"] = new Dictionary<string, object?>
                {
                    ["metadata"] = new Dictionary<string, object?> { ["labels"] = Labels() },
                    ["spec"] = podSpec,
                },
            },
        };
        var yaml = new SerializerBuilder().WithQuotingNecessaryStrings().Build().Serialize(job);
        return $"# Written by `moelab sweep --backend k8s` for {sweepId} ({experiment}): pod i runs index i of\n" +
               $"# {Path.Combine(dir, SweepTaskList.FileName)}, which must be on the claim '{o.Pvc}' at that path.\n" +
               $"# kubectl apply -f <this file>; progress: moelab sweep-status {dir}\n" + yaml;
    }

    /// <summary>A DNS-1123 name: moelab-&lt;experiment&gt;-&lt;sweep-id&gt;, lower case, at most 52 characters
    /// (pods of an Indexed Job are named after the job plus the index and a suffix).</summary>
    public static string JobName(string experiment, string sweepId)
    {
        string exp = Label(experiment);
        int room = 52 - "moelab-".Length - 1 - sweepId.Length;
        if (exp.Length > room) exp = exp[..Math.Max(1, room)].TrimEnd('-');
        return $"moelab-{exp}-{sweepId}";
    }

    private static string Label(string text)
    {
        var sb = new StringBuilder();
        foreach (char ch in text.ToLowerInvariant()) sb.Append(char.IsAsciiLetterOrDigit(ch) ? ch : '-');
        return sb.ToString().Trim('-');
    }
}
