"""debug.py: its argument list, with the options given after it passed through to main.py (they win),
into its own folder (log/debug/, not the demo's log/000_demo/)."""
import json

from tests.conftest import run_folder, run_in_process


def test_options_after_debug_py_pass_through_into_its_own_folder(tmp_path, tiny_png, monkeypatch):
    import debug

    given = ["--input_path", str(tiny_png), "--num_epochs", "3", "--log_epoch", "3", "--save_dir", str(tmp_path / "log"),
             "--hidden_features", "16", "--hidden_layers", "1", "--quiet", "--device", "cpu"]
    runs = []  # main.py runs here, in-process, with the command debug.py would start

    def call(cmd, **kw):
        assert cmd[1] == "main.py"
        runs.append(run_in_process(*cmd[1:]))
        return runs[-1].returncode

    monkeypatch.setattr(debug.subprocess, "call", call)
    monkeypatch.setattr(debug.sys, "argv", ["debug.py", *given])
    assert debug.debug() == 0, runs[0].stderr
    folder = run_folder(tmp_path / "log")
    assert folder.parent == tmp_path / "log" / "debug" and folder.name.startswith("debug_demo_"), folder
    args = json.loads((folder / "args.json").read_text())
    assert args["num_epochs"] == 3 and args["hidden_features"] == 16 and args["input_path"] == str(tiny_png)
    assert args["transform"] == "sym_power" and args["eval_lpips"] is True  # the list's own options stay
