using System.CommandLine;
using MoeLab.Experiments.Kernel;

namespace MoeLab.Experiments.Cli;

/// <summary>`moelab kernel install|uninstall|run`: the MoeLab Jupyter kernel (C#, Roslyn scripting,
/// the headless runner's engine) for VS Code, JupyterLab and any Jupyter client.</summary>
public static class KernelCommand
{
    public static Command Create()
    {
        var cmd = new Command("kernel", "The MoeLab Jupyter kernel: install its kernelspec, or run it (front ends do that).");
        cmd.Subcommands.Add(CreateInstall(uninstall: false));
        cmd.Subcommands.Add(CreateInstall(uninstall: true));
        cmd.Subcommands.Add(CreateRun());
        return cmd;
    }

    static Command CreateInstall(bool uninstall)
    {
        var user = new Option<bool>("--user") { Description = "The user's Jupyter data folder (~/.local/share/jupyter/kernels on Linux)." };
        var prefix = new Option<string?>("--prefix") { Description = "Under PREFIX/share/jupyter/kernels (as `jupyter kernelspec install --prefix`)." };
        var cmd = uninstall
            ? new Command("uninstall", $"Remove the '{KernelSpecInstaller.KernelName}' kernelspec.")
            : new Command("install", $"Write the '{KernelSpecInstaller.KernelName}' kernelspec, which starts this build of moelab as a kernel " +
                "(default: system-wide, /usr/local/share/jupyter/kernels).");
        cmd.Options.Add(user);
        cmd.Options.Add(prefix);
        cmd.SetAction(parse =>
        {
            bool u = parse.GetValue(user);
            string? p = parse.GetValue(prefix);
            if (u && p is not null)
            {
                Console.Error.WriteLine($"kernel {cmd.Name}: give --user or --prefix, not both");
                return 2;
            }
            try
            {
                if (uninstall)
                {
                    string? removed = KernelSpecInstaller.Uninstall(u, p);
                    Console.WriteLine(removed is null ? $"no {KernelSpecInstaller.KernelName} kernelspec in {KernelSpecInstaller.KernelsDirectory(u, p)}" : $"removed {removed}");
                    return 0;
                }
                string dir = KernelSpecInstaller.Install(u, p);
                Console.WriteLine($"installed kernelspec {KernelSpecInstaller.KernelName} ({KernelSpecInstaller.DisplayName}) in {dir}");
                Console.WriteLine($"  it runs {typeof(KernelCommand).Assembly.Location}; rebuild with ./moelab after changing the library, then restart the kernel");
                return 0;
            }
            catch (UnauthorizedAccessException e)
            {
                Console.Error.WriteLine($"kernel {cmd.Name}: {e.Message} (use --user, or --prefix PATH)");
                return 1;
            }
        });
        return cmd;
    }

    static Command CreateRun()
    {
        var file = new Option<FileInfo>("--connection-file", "-f") { Description = "The connection file the front end wrote.", Required = true };
        var grace = new Option<double>("--interrupt-grace")
        {
            Description = "Seconds an interrupted cell has to stop (it should check the global CancellationToken) before it is abandoned.",
            DefaultValueFactory = _ => 5,
        };
        var cmd = new Command("run", "Run the kernel on a connection file (Jupyter front ends start it through the kernelspec).");
        cmd.Options.Add(file);
        cmd.Options.Add(grace);
        cmd.SetAction(parse =>
        {
            KernelConnection connection;
            try { connection = KernelConnection.Load(parse.GetValue(file)!.FullName); }
            catch (JupyterProtocolException e)
            {
                Console.Error.WriteLine($"kernel run: {e.Message}");
                return 2;
            }
            // Jupyter starts a kernel in the notebook's folder; jupyter_server also names the notebook.
            string? session = Environment.GetEnvironmentVariable("JPY_SESSION_NAME");
            string notebookPath = session is not null && session.EndsWith(".ipynb", StringComparison.OrdinalIgnoreCase)
                ? Path.GetFullPath(session)
                : Path.Combine(Directory.GetCurrentDirectory(), "notebook.ipynb");
            using var kernel = new JupyterKernel(connection, notebookPath, TimeSpan.FromSeconds(parse.GetValue(grace)));
            int rc = kernel.Run();
            // A cell abandoned after an interrupt may still be running: end the process regardless.
            Environment.Exit(rc);
            return rc;
        });
        return cmd;
    }
}
