"""Options resolved once before anything trains (opt.resolve, trainer/fit.py): the backbone's and the
modality's defaults fill what the user left None, args.json says what ran, an older args.json with
nulls still resumes and decodes, and the video batch is derived only when it was not given."""
import json
import re

import imageio.v2 as imageio
import pytest
import torch

import main
from opt import build_parser, resolve
from tests.conftest import ROOT, image_folder, run_folder, smooth_image
from util.errors import OptionError

SMALL = ["--hidden_features", "16", "--hidden_layers", "1", "--quiet", "--device", "cpu", "--no_images"]


def _resolved(*argv):
    return resolve(build_parser().parse_args(list(argv)))


@pytest.mark.parametrize("argv,first_omega,lr", [
    ([], 30.0, 1e-4),
    (["--signal_type", "audio"], 3000.0, 1e-4),  # SIREN's audio setting refines the backbone's omega
    (["--model_type", "finer", "--signal_type", "audio"], 3000.0, 5e-4),
    (["--model_type", "gauss", "--signal_type", "audio"], None, 5e-3),  # Gauss has no first omega to set
    (["--model_type", "pemlp"], None, 1e-3),
    (["--signal_type", "audio", "--first_omega", "100", "--lr", "0.01"], 100.0, 0.01),  # the user's win
])
def test_backbone_then_modality_then_user(argv, first_omega, lr):
    args = _resolved(*argv)
    assert (args.first_omega, args.lr) == (first_omega, lr)
    assert vars(resolve(args)) == vars(_resolved(*argv))  # resolving again changes nothing


def test_video_batch_is_left_to_the_data_and_names_are_checked():
    assert _resolved("--signal_type", "video").batch_size is None
    assert _resolved("--signal_type", "video", "--batch_size", "4096").batch_size == 4096
    for option, value in (("--transform", "gauss"), ("--model_type", "mlp"), ("--signal_type", "mesh")):
        with pytest.raises(OptionError, match=f"^{option} {value}: invalid choice"):
            _resolved(option, value)


def test_the_help_names_every_entry_of_the_tables():
    from components.signals import MODALITIES
    from components.transform import TRANSFORMS
    from models import MODELS

    helps = {a.dest: a.help for a in build_parser()._actions}
    for option, table in (("transform", TRANSFORMS), ("model_type", MODELS), ("signal_type", MODALITIES)):
        assert all(name in helps[option] for name in table), option


def _run(capsys, *argv):
    rc = main.main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert rc == 0, err
    return err


def test_audio_run_folder_says_what_ran(tmp_path, capsys):
    _run(capsys, "--signal_type", "audio", "--input_path", "builtin:chirp", "--audio_seconds", "0.02",
         "--num_epochs", "2", "--log_epoch", "1", "--save_dir", tmp_path, *SMALL)
    args = json.loads((run_folder(tmp_path) / "args.json").read_text())
    assert args["first_omega"] == 3000.0 and args["lr"] == 1e-4
    state = torch.load(next((run_folder(tmp_path) / "ckpt").glob("*.pth")), weights_only=True)
    assert state["args"]["first_omega"] == 3000.0  # the checkpoint decodes with what trained


def _frames(tmp_path):
    """8 frames of 128 x 128: 131072 coordinates."""
    return image_folder(tmp_path / "frames", [f"{i:03d}" for i in range(8)], 128)


@pytest.mark.parametrize("given,per_step", [(None, 8192), ("4096", 4096)])
def test_video_batch_default_is_derived_and_an_explicit_4096_is_4096(tmp_path, capsys, given, per_step):
    frames = _frames(tmp_path)  # a sixteenth of 131072 coordinates: 8192
    err = _run(capsys, "--signal_type", "video", "--input_path", frames, "--num_epochs", "1", "--save_dir",
               tmp_path / "log", *SMALL, *(["--batch_size", given] if given else []))
    assert f"{per_step} of 131072 coordinates per step" in err
    args = json.loads((run_folder(tmp_path / "log") / "args.json").read_text())
    assert args["batch_size"] == per_step  # recorded, derived or not


def test_an_older_args_json_with_nulls_resumes_as_the_run_would_have_gone_on(tmp_path, capsys):
    """A run interrupted at epoch 10 of 20 whose args.json predates resolution (lr and first omega
    null) resumes with the same lr and omega: its epoch 20 equals the uninterrupted run's exactly."""
    image = tmp_path / "00.png"
    imageio.imwrite(image, smooth_image(16, 16))
    _run(capsys, "--input_path", image, "--num_epochs", "20", "--log_epoch", "5", "--snap_epoch", "10", "--eager",
         "--save_dir", tmp_path / "log", *SMALL)
    folder = run_folder(tmp_path / "log")
    straight = json.loads((folder / "results.json").read_text())
    args = json.loads((folder / "args.json").read_text())
    (folder / "args.json").write_text(json.dumps({**args, "lr": None, "first_omega": None}))
    (snap,) = (folder / "ckpt").glob("ckpt_00_10_*.pth")
    (folder / "ckpt" / "latest.json").write_text(json.dumps({"file": snap.name, "sample": "00", "epoch": 10}))
    (folder / "results.json").write_text(json.dumps({**straight, "complete": False}))
    err = _run(capsys, "--resume", folder)
    assert "resuming after 00 epoch 10" in err and "lr 0.0001" in err
    resumed = json.loads((folder / "results.json").read_text())
    assert resumed["complete"] and resumed["samples"]["00"]["20"] == straight["samples"]["00"]["20"]


def test_a_checkpoint_with_null_options_decodes(tmp_path, capsys):
    image = tmp_path / "00.png"
    imageio.imwrite(image, smooth_image(16, 16))
    _run(capsys, "--input_path", image, "--num_epochs", "5", "--log_epoch", "5", "--save_dir", tmp_path / "log",
         *SMALL)
    (ckpt,) = (run_folder(tmp_path / "log") / "ckpt").glob("ckpt_00_5_*.pth")
    state = torch.load(ckpt, weights_only=True)
    state["args"].update(lr=None, first_omega=None)
    old = tmp_path / "old.pth"
    torch.save(state, old)
    decoded = []
    for path in (ckpt, old):
        assert main.main(["--eval_ckpt", str(path), "--input_path", str(image), "--save_dir",
                          str(tmp_path / "out")]) == 0
        decoded.append(json.loads(capsys.readouterr().out.strip().splitlines()[-1]))
    assert decoded[0] == decoded[1] and decoded[0]["psnr"] is not None


def test_an_older_video_args_json_keeps_its_derived_batch_on_resume(tmp_path, capsys):
    """Before resolution args.json held the literal 4096 for a derived video batch; such a run resumes
    with the batch it trained with (a sixteenth of the pixels), not 4096."""
    frames = _frames(tmp_path)
    _run(capsys, "--signal_type", "video", "--input_path", frames, "--num_epochs", "2", "--snap_epoch", "1",
         "--save_dir", tmp_path / "log", *SMALL)
    folder = run_folder(tmp_path / "log")
    args = json.loads((folder / "args.json").read_text())
    (folder / "args.json").write_text(json.dumps({**args, "lr": None, "first_omega": None, "batch_size": 4096}))
    (snap,) = (folder / "ckpt").glob("ckpt_frames_1_*.pth")
    (folder / "ckpt" / "latest.json").write_text(json.dumps({"file": snap.name, "sample": "frames", "epoch": 1}))
    results = json.loads((folder / "results.json").read_text())
    (folder / "results.json").write_text(json.dumps({**results, "complete": False}))
    err = _run(capsys, "--resume", folder)
    assert "resuming after frames epoch 1" in err and "8192 of 131072 coordinates per step" in err


# ---- the parser: help, groups, roles ----------------------------------------------------------------

def test_every_option_has_help_in_its_group_and_one_role():
    from opt import GROUPS, ROLE, ROLES

    parser = build_parser()
    options = [a for a in parser._actions if a.dest != "help"]
    assert all(a.help and a.help.strip() for a in options), [a.dest for a in options if not a.help]
    groups = {g.title: [a.dest for a in g._group_actions] for g in parser._action_groups}
    assert [name for name, _ in GROUPS] == [t for t in groups if t not in ("positional arguments", "options")]
    assert sorted(d for name, _ in GROUPS for d in groups[name]) == sorted(a.dest for a in options)
    text = parser.format_help()
    assert all(f"\n{name}:\n" in text for name, _ in GROUPS) and "(default: 3407)" in text
    referenced = set(re.findall(r"[\w./-]+\.(?:md|py|json)\b", " ".join(a.help for a in options)))
    assert referenced and all((ROOT / f).is_file() for f in referenced), referenced  # no file it names is missing
    # every option has exactly one role (a new option fails here until it is added to opt.ROLES)
    assert sorted(ROLE) == sorted(a.dest for a in options) and sum(map(len, ROLES.values())) == len(ROLE)


def test_the_help_names_only_files_that_exist():
    import re

    from tests.conftest import ROOT

    for path in re.findall(r"[\w/]+\.(?:py|md|json)\b", build_parser().format_help()):
        assert (ROOT / path).exists(), path


def test_memory_gb_with_a_row_count_is_one_line(tmp_path, capsys):
    image = tmp_path / "00.png"
    imageio.imwrite(image, smooth_image(16, 16))
    rc = main.main(["--input_path", str(image), "--chunk_rows", "64", "--memory_gb", "2", "--save_dir",
                    str(tmp_path / "log")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "--memory_gb 2" in err and "--chunk_rows 64" in err
    assert not (tmp_path / "log").exists()


def test_a_resume_takes_how_it_runs_and_says_so(tmp_path, capsys):
    """A run stopped at epoch 10 (out of memory, say) resumes with --chunk_rows or --memory_gb, which
    change how a step is computed, not what; an option that changes the fit is still refused."""
    image = tmp_path / "00.png"
    imageio.imwrite(image, smooth_image(16, 16))
    _run(capsys, "--input_path", image, "--num_epochs", "20", "--log_epoch", "5", "--snap_epoch", "10",
         "--chunk_rows", "64", "--save_dir", tmp_path / "log", *SMALL)
    folder = run_folder(tmp_path / "log")
    straight = json.loads((folder / "results.json").read_text())
    (snap,) = (folder / "ckpt").glob("ckpt_00_10_*.pth")
    (folder / "ckpt" / "latest.json").write_text(json.dumps({"file": snap.name, "sample": "00", "epoch": 10}))
    (folder / "results.json").write_text(json.dumps({**straight, "complete": False}))
    for argv, needle in ((["--lr", "0.1"], "--lr cannot be given"),
                         (["--memory_gb", "1", "--chunk_rows", "32"], "--memory_gb 1 is the budget")):
        assert main.main(["--resume", str(folder), *argv]) == 2
        assert needle in capsys.readouterr().err
    err = _run(capsys, "--resume", folder, "--memory_gb", "1")  # a budget given: the saved row count goes
    assert "resume: --memory_gb 1.0 (how it runs; args.json says None)" in err
    assert "resume: --chunk_rows auto (how it runs; args.json says 64)" in err
    resumed = json.loads((folder / "results.json").read_text())
    assert resumed["complete"]
    assert resumed["samples"]["00"]["20"]["psnr"] == pytest.approx(straight["samples"]["00"]["20"]["psnr"], abs=1e-3)


@pytest.mark.parametrize("argv", [
    ["main.py", "--input_path", "builtin:astronaut", "--save_dir", ""], ["main.py", "--resume", ""],
    ["main.py", "--eval_ckpt", ""], ["run.py", "--save_dir", "", "--dry_run"], ["run.py", "--resume", ""],
    ["run.py", "--status", ""], ["debug.py", "--save_dir", ""]])
def test_an_empty_path_is_refused_not_taken_for_the_current_folder_or_the_default(tmp_path, argv):
    # an unset shell variable (--save_dir "$OUT") must not write into the current folder or ./log, nor start
    # the demo in place of --resume
    from tests.conftest import one_line_error, run_in_process, run_py

    script = argv[0] == "debug.py"  # no main(): a process of its own
    p = run_py(ROOT / argv[0], *argv[1:], cwd=tmp_path) if script else run_in_process(*argv, cwd=tmp_path)
    one_line_error(p, argv[argv.index("") - 1], "empty")
    assert list(tmp_path.iterdir()) == []
