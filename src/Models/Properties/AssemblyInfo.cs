using System.Runtime.CompilerServices;

// The tests reach the fused dispatch's internals (the direct MKL path, the deferred values) to compare them with the
// paths they replace.
[assembly: InternalsVisibleTo("MoeLab.Models.Tests")]
