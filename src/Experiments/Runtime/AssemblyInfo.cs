using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("MoeLab.Experiments.Tests")]
