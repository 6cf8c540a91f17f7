"""Interrupt, restart and protocol checks of the MoeLab kernel through jupyter_client (Debian's
python3-jupyter-client), the library every Jupyter front end's Python side uses.

- interrupt during a long cell that checks the global CancellationToken: the cell stops within
  seconds, the reply is an error, the session (variables) survives;
- interrupt of a cell that ignores the token: reported as abandoned after the grace period, the
  kernel keeps serving and the session survives;
- restart: a new kernel process with an empty session;
- messages signed with a wrong key are ignored (no reply), while correctly signed ones are answered;
- kernel_info on control, comm_info, history, update_display_data, input_request (stdin).

Run: /usr/bin/python3 -m unittest -v tests/jupyter/kernel_interrupt_restart.py
"""
import queue
import threading
import time
import unittest

from jupyter_client.manager import start_new_kernel

KERNEL = "moelab-csharp"


class KernelLifecycleTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.km, cls.kc = start_new_kernel(kernel_name=KERNEL, startup_timeout=120)

    @classmethod
    def tearDownClass(cls):
        cls.kc.stop_channels()
        cls.km.shutdown_kernel(now=False)

    def execute(self, code, timeout=120, **kwargs):
        """Runs code; returns (reply content, iopub messages of this request)."""
        msgs = []
        reply = self.kc.execute_interactive(code, timeout=timeout, output_hook=msgs.append, **kwargs)
        return reply["content"], msgs

    def result_text(self, msgs):
        return [m["content"]["data"]["text/plain"] for m in msgs if m["msg_type"] == "execute_result"]

    def interrupt_while_running(self, code, timeout=120):
        """Starts code (which prints a line once it runs), interrupts it half a second after that
        line arrives, returns (reply, seconds from the interrupt to the reply)."""
        box = {}
        running = threading.Event()

        def hook(msg):
            if msg["msg_type"] == "stream":
                running.set()

        def run():
            reply = self.kc.execute_interactive(code, timeout=timeout, output_hook=hook)
            box["reply"] = reply["content"]

        t = threading.Thread(target=run)
        t.start()
        self.assertTrue(running.wait(timeout), "the long cell did not start")
        time.sleep(0.5)
        self.assertTrue(t.is_alive(), "the long cell ended before it was interrupted")
        interrupted_at = time.monotonic()
        self.km.interrupt_kernel()  # interrupt_mode "message": an interrupt_request on control
        t.join(timeout)
        self.assertFalse(t.is_alive(), "no execute_reply after the interrupt")
        return box["reply"], time.monotonic() - interrupted_at

    def test_1_interrupt_cooperative_cell(self):
        content, _ = self.execute("int kept = 7;")
        self.assertEqual(content["status"], "ok")
        reply, seconds = self.interrupt_while_running(
            'Console.WriteLine("running"); for (int i = 0; i < 6000; i++) await Task.Delay(100, CancellationToken);')
        self.assertEqual(reply["status"], "error")
        # Stopped by its token (not abandoned after the grace period); unhurried bound for loaded machines.
        self.assertEqual(reply["ename"], "OperationCanceledException")
        self.assertLess(seconds, 30.0)
        content, msgs = self.execute("kept * 6")
        self.assertEqual(content["status"], "ok")
        self.assertEqual(self.result_text(msgs), ["42"])

    def test_2_interrupt_cell_that_ignores_the_token(self):
        reply, seconds = self.interrupt_while_running(
            'Console.WriteLine("running"); while (true) System.Threading.Thread.Sleep(50);')
        self.assertEqual(reply["status"], "error")
        self.assertEqual(reply["ename"], "CellAbandonedException")
        self.assertIn("did not stop", reply["evalue"])
        self.assertLess(seconds, 30.0)
        # The kernel still serves, with the session as it was before the abandoned cell.
        content, msgs = self.execute("kept + 1")
        self.assertEqual(content["status"], "ok")
        self.assertEqual(self.result_text(msgs), ["8"])

    def test_3_kernel_info_on_control_comm_info_history(self):
        msg = self.kc.session.msg("kernel_info_request")
        self.kc.control_channel.send(msg)
        reply = self.kc.get_control_msg(timeout=30)
        self.assertEqual(reply["msg_type"], "kernel_info_reply")
        self.assertEqual(reply["content"]["protocol_version"], "5.3")
        self.assertEqual(reply["content"]["language_info"]["name"], "C#")

        msg_id = self.kc.comm_info()
        reply = self.shell_reply(msg_id)
        self.assertEqual(reply["content"], {"status": "ok", "comms": {}})

        msg_id = self.kc.history(hist_access_type="tail", n=10)
        reply = self.shell_reply(msg_id)
        self.assertEqual(reply["content"]["history"], [])

    def shell_reply(self, msg_id, timeout=30):
        while True:
            reply = self.kc.get_shell_msg(timeout=timeout)
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply

    def test_4_update_display_data(self):
        content, msgs = self.execute('var shown = display("first"); shown.Update("second");')
        self.assertEqual(content["status"], "ok")
        display = [m for m in msgs if m["msg_type"] == "display_data"]
        update = [m for m in msgs if m["msg_type"] == "update_display_data"]
        self.assertEqual(len(display), 1)
        self.assertEqual(len(update), 1)
        display_id = display[0]["content"]["transient"]["display_id"]
        self.assertEqual(update[0]["content"]["transient"]["display_id"], display_id)
        self.assertEqual(update[0]["content"]["data"]["text/plain"], "second")

    def test_5_input_request_on_stdin(self):
        answers = []

        def stdin_hook(msg):
            answers.append(msg["content"]["prompt"])
            self.kc.input("from the front end")

        msgs = []
        reply = self.kc.execute_interactive(
            'var line = Console.ReadLine(); line.ToUpperInvariant()', timeout=60,
            allow_stdin=True, stdin_hook=stdin_hook, output_hook=msgs.append)
        self.assertEqual(reply["content"]["status"], "ok")
        self.assertEqual(len(answers), 1)
        self.assertEqual(self.result_text(msgs), ["FROM THE FRONT END"])

    def test_6_wrong_signature_is_ignored(self):
        bad = self.km.client()
        bad.session.key = b"not-the-kernel-key"
        bad.start_channels()
        try:
            bad.kernel_info()
            with self.assertRaises(queue.Empty):
                bad.get_shell_msg(timeout=3)
        finally:
            bad.stop_channels()
        # The kernel still answers correctly signed messages.
        msg_id = self.kc.kernel_info()
        self.assertEqual(self.shell_reply(msg_id)["msg_type"], "kernel_info_reply")

    def test_7_restart_gives_a_fresh_session(self):
        before = self.km.provisioner.process.pid
        self.km.restart_kernel(now=False)  # shutdown_request(restart=True) on control, then a new process
        self.kc.wait_for_ready(timeout=120)
        self.assertNotEqual(self.km.provisioner.process.pid, before)
        content, _ = self.execute("kept")
        self.assertEqual(content["status"], "error")
        self.assertIn("CS0103", content["evalue"])  # the old session's variable is gone
        content, msgs = self.execute("1 + 1")
        self.assertEqual(self.result_text(msgs), ["2"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
