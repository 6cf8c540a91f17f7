"""The Jupyter project's kernel conformance suite (jupyter_kernel_test, Debian's
python3-jupyter-kernel-test) run against the MoeLab C# kernel, with a C# sample for every
message type it checks.

Run: the kernelspec `moelab-csharp` must be visible to jupyter_client (`./moelab kernel install
--user`, or a private JUPYTER_PATH / JUPYTER_DATA_DIR), then
    /usr/bin/python3 -m unittest -v tests/jupyter/kernel_conformance.py
"""
import unittest

import jupyter_kernel_test


class MoeLabKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = "moelab-csharp"
    language_name = "C#"
    file_extension = ".cs"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The suite gives each request 15 s. A cold kernel's first cell (Roslyn, LibTorch, Plotly.NET
        # loading) can take longer on a loaded 2-core machine, so warm it once, unhurried, first;
        # its messages are flushed by each test's flush_channels().
        reply = cls.kc.execute_interactive(
            "torch.ones(1).sum().item<float>(); Plotly.NET.CSharp.Chart.Line<int, int, string>(new[] { 1 }, new[] { 1 }); "
            'new Microsoft.Data.Analysis.DataFrame(new Microsoft.Data.Analysis.Int32DataFrameColumn("x", new[] { 1 }))',
            timeout=300, output_hook=lambda msg: None)
        assert reply["content"]["status"] == "ok", reply["content"]
        cls.kc.complete("Console.Wr")
        cls.kc.get_shell_msg(timeout=300)

    def execute_helper(self, code, timeout=120, **kwargs):
        # The suite's 15 s per reply, raised for loaded shared machines (not a protocol matter).
        return super().execute_helper(code, timeout=timeout, **kwargs)

    # stream (stdout, stderr)
    code_hello_world = 'Console.WriteLine("hello, world");'
    code_stderr = 'Console.Error.WriteLine("to stderr");'

    # complete_request: the suite compares the match sets exactly
    completion_samples = [
        {"text": "Console.WriteL", "matches": {"WriteLine"}},
        {"text": "var primes = new List<int> { 2, 3 }; primes.AddR", "matches": {"AddRange"}},
        {"text": "Math.Sq", "matches": {"Sqrt"}},
    ]

    # is_complete_request
    complete_code_samples = ["1 + 1", "int x = 1;", "for (int i = 0; i < 3; i++) { Console.WriteLine(i); }"]
    incomplete_code_samples = ["for (int i = 0; i < 3; i++) {", "var xs = new[] { 1, 2,", "/* an open comment"]
    invalid_code_samples = ["int x = ;", "int 2x = 1;", "for (int i = 0; i < 3; i++ }"]

    # execute_reply payload "page" (IPython's `name?` help)
    code_page_something = "Console.WriteLine?"

    # error
    code_generate_error = 'throw new InvalidOperationException("boom");'

    # execute_result (text/plain); the TorchSharp sample checks native LibTorch inside the kernel
    code_execute_result = [
        {"code": "6 * 7", "result": "42"},
        {"code": '"moe" + "lab"', "result": "moelab"},
        {"code": "torch.ones(2, 3).sum().item<float>()", "result": "6"},
    ]

    # display_data: a DataFrame and a Plotly chart through the MoeLab formatters, a plain value
    code_display_data = [
        {"code": "display(42);", "mime": "text/plain"},
        {
            "code": "using Microsoft.Data.Analysis;\n"
            'display(new DataFrame(new Int32DataFrameColumn("x", new[] { 1, 2, 3 })));',
            "mime": "text/html",
        },
        {
            "code": "display(Plotly.NET.CSharp.Chart.Line<int, int, string>(new[] { 1, 2, 3 }, new[] { 2, 4, 8 }));",
            "mime": "text/html",
        },
    ]

    # inspect_request
    code_inspect_sample = "Console.WriteLine"

    # clear_output
    code_clear_output = 'Console.WriteLine("soon gone"); clear_output();'


if __name__ == "__main__":
    unittest.main(verbosity=2)
