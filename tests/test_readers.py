"""Property-based tests at the door (hypothesis): random and mutated bytes, JSON values of the wrong
types and random option values through every reader of util/readers.py and the option check. Each
must end in a valid record or the project's own UserError, never another exception. In-process and
small: a few seconds each."""
import copy
import json
import math
import os
import shutil

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opt import RULES, build_parser, check, check_kinds, check_values, read_options, resolve
from tests.conftest import image_folder, smooth_image
from util import readers
from util.declarations import OPTIONS
from util.errors import InputError, OptionError, UserError

FAST = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
SLOW = settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(min_value=2 ** 63) | st.floats(allow_nan=False)
    | st.text(max_size=12) | st.sampled_from(["../../outside", "/abs", "x|y\n## z", "..", "ckpt", "\u0000"]),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4), max_leaves=12)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A real run folder of this project (two 16 px images, checkpoints of both), made in-process."""
    import main

    base = tmp_path_factory.mktemp("run")
    data = image_folder(base / "data", ["0", "1"])
    rc = main.main(["--input_path", str(data), "--save_dir", str(base / "log"), "--num_epochs", "6", "--log_epoch", "3",
                    "--snap_epoch", "3", "--hidden_features", "8", "--hidden_layers", "1", "--quiet", "--device", "cpu",
                    "--no_images", "--eager"])
    assert rc == 0
    (run,) = (base / "log" / "debug").iterdir()
    return run


def _paths(v, prefix=()):
    yield prefix
    if isinstance(v, dict):
        for k, x in v.items():
            yield from _paths(x, prefix + (k,))
    elif isinstance(v, list):
        for i, x in enumerate(v[:6]):
            yield from _paths(x, prefix + (i,))


def _replace(doc, path, value):
    if not path:
        return value
    doc = copy.deepcopy(doc)
    node = doc
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return doc


def mutant(draw, doc):
    """`doc` with one value (anywhere in it) replaced by a random JSON value."""
    paths = list(_paths(doc))
    return _replace(doc, draw(st.sampled_from(paths)), draw(json_values))


def _read_ok(fn, *args):
    """The reader's record, or None where it refused with the project's InputError."""
    try:
        return fn(*args)
    except InputError as e:
        assert str(e) and "\n" not in str(e).strip(), repr(e)
        return None


READERS = {  # file under a run / sweep folder -> the reader that reads it
    "args.json": read_options,
    "results.json": lambda folder: readers.read_results(os.path.join(folder, "results.json")),
    "ckpt/latest.json": readers.read_latest,
    "sweep.json": readers.read_sweep,
    "jobs.json": lambda folder: [readers.read_job_state(j) for j in readers.read_jobs(folder).values()],
}


def _copy_run(run_dir, tmp_path):
    dest = tmp_path / "run"  # tmp_path: a fresh folder per example
    shutil.copytree(run_dir, dest)
    return dest


def _sweep_docs(folder):
    task_folder = str(folder / "t_2026_abcd")
    argv = ["--tag", "t", "--run_folder", task_folder]
    return {"sweep.json": {"experiment": "001", "tasks": [{"name": "t", "set": "t", "argv": argv, "status": "pending",
                                                           "folder": task_folder}]},
            "jobs.json": {"jobs": {"t": {"job_id": "1", "argv": argv, "folder": task_folder, "state_file": "x"}}}}


@pytest.mark.parametrize("name", list(READERS))
@FAST
@given(raw=st.binary(max_size=200))
def test_random_bytes_end_in_a_record_or_an_input_error(tmp_path_factory, run_dir, name, raw):
    folder = _copy_run(run_dir, tmp_path_factory.mktemp("b"))
    path = folder / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(raw)
    _read_ok(READERS[name], str(folder))


@pytest.mark.parametrize("name", list(READERS))
@FAST
@given(data=st.data())
def test_wrong_json_values_end_in_a_record_or_an_input_error(tmp_path_factory, run_dir, name, data):
    folder = _copy_run(run_dir, tmp_path_factory.mktemp("j"))
    docs = _sweep_docs(folder)
    doc = docs[name] if name in docs else json.loads((folder / name).read_text())
    (folder / name).write_text(json.dumps(mutant(data.draw, doc)))
    rec = _read_ok(READERS[name], str(folder))
    if name == "ckpt/latest.json" and rec is not None:  # a record's path never leaves the run's ckpt/
        assert readers.within(folder / "ckpt", rec.path)
    if name == "sweep.json" and rec is not None:
        for t in rec.tasks:
            assert readers.is_name(t.name) and (t.folder is None or readers.within(folder, t.folder))


@pytest.mark.parametrize("name", list(READERS))
@FAST
@given(data=st.data())
def test_any_json_value_in_any_top_level_field(tmp_path_factory, run_dir, name, data):
    """A field the file has (or a new one) set to any JSON value, nested at any depth: a record or the
    project's InputError."""
    folder = _copy_run(run_dir, tmp_path_factory.mktemp("f"))
    docs = _sweep_docs(folder)
    doc = docs[name] if name in docs else json.loads((folder / name).read_text())
    key = data.draw(st.sampled_from(sorted(doc)) | st.text(max_size=8))
    (folder / name).write_text(json.dumps({**doc, key: data.draw(json_values)}))
    _read_ok(READERS[name], str(folder))


# one value of every JSON type (and the edges of numbers), for the exhaustive tests below
EVERY_TYPE = [None, True, False, 0, -1, 2 ** 70, 1.5, -1e308, "", "x", "../x", [], [1, "a"], [[]], {}, {"a": [1]}]


@pytest.mark.parametrize("name", list(READERS))
def test_every_field_takes_every_json_type(tmp_path, run_dir, name):
    """Every field of every file a run or sweep folder holds (nested ones too), in turn, holding a value
    of every JSON type: the reader gives a record or the project's InputError (`"signal_type": []` in an
    args.json once ended in TypeError: unhashable type: 'list')."""
    folder = _copy_run(run_dir, tmp_path)
    docs = _sweep_docs(folder)
    doc = docs[name] if name in docs else json.loads((folder / name).read_text())
    paths = list(_paths(doc))
    assert len(paths) > 3
    for path in paths:
        for value in EVERY_TYPE:
            (folder / name).write_text(json.dumps(_replace(doc, path, value)))
            _read_ok(READERS[name], str(folder))


def test_every_option_of_a_checkpoint_takes_every_json_type(run_dir):
    """A checkpoint's option dict, each option in turn holding a value of every JSON type: its options
    resolve or are refused with the project's InputError, as an args.json's are."""
    from opt import defaults
    from trainer.decode import checkpoint_options

    state = torch.load(_ckpt(run_dir), weights_only=True)
    base = defaults()
    for key in state["args"]:
        for value in EVERY_TYPE:
            try:
                checkpoint_options("ckpt.pth", {**state, "args": {**state["args"], key: value}}, base)
            except InputError as e:
                assert "\n" not in str(e).strip()


def test_every_scheduler_entry_of_a_checkpoint_takes_every_json_type(run_dir, tmp_path):
    """The scheduler's state (read back on --resume and checked on --eval_ckpt), each entry holding a value
    of every JSON type: read, or refused with an InputError (a NaN in lr_lambdas was a TypeError)."""
    state = torch.load(_ckpt(run_dir), weights_only=True)
    for key in state["scheduler"]:
        for value in EVERY_TYPE:
            path = tmp_path / "ckpt_1_6_x.pth"
            torch.save({**state, "scheduler": {**state["scheduler"], key: value}}, path)
            try:
                readers.read_checkpoint(str(path))
            except InputError as e:
                assert "\n" not in str(e).strip()


def test_the_signal_dimensions_are_what_the_readers_give(tmp_path):
    """util/readers.py's SIGNAL_DIMS (torch-free, for the checkpoint check) against a signal of each
    modality as components/signals.py reads it."""
    import imageio.v2 as imageio

    from components.signals import MODALITIES

    imageio.imwrite(tmp_path / "a.png", smooth_image(8, 8))
    frames = image_folder(tmp_path / "frames", ["0", "1"], 8)
    inputs = {"image": tmp_path / "a.png", "audio": "builtin:chirp", "video": frames}
    assert set(readers.SIGNAL_DIMS) == set(MODALITIES) == set(inputs)
    opts = {"audio_seconds": 0.01}
    for name, m in MODALITIES.items():
        (path,) = m.io.list_samples(str(inputs[name]))
        assert m.io.read(path, opts).data.dim() == readers.SIGNAL_DIMS[name], name


@FAST
@given(text=st.lists(st.sampled_from(["+---+---+", "| epoch_5 | psnr |", "| epoch_-5 | psnr |", "| epoch_x | psnr |",
                                      "| mean | 3.5 |", "| 00 | nan |", "| 00 | 1e999 |", "| time | train |", "|",
                                      "| 00 | x | y | z |", "junk"]) | st.text(max_size=20), max_size=14))
def test_res_table_lines_end_in_a_record_or_an_input_error(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("t") / "res_table.md"
    path.write_text("\n".join(text))
    rec = _read_ok(readers.read_res_table, str(path))
    if rec is not None:
        assert all(readers.EPOCH.fullmatch(e) for e in rec["mean"])
        assert all(v is None or math.isfinite(v) for m in rec["mean"].values() for v in m.values())


# ---- checkpoints ---------------------------------------------------------------------------------------

def _ckpt(run_dir):
    return run_dir / "ckpt" / json.loads((run_dir / "ckpt" / "latest.json").read_text())["file"]


tensors = st.builds(lambda shape, dtype, fill: torch.full(shape, fill).to(dtype),
                    st.lists(st.integers(0, 3), max_size=2).map(tuple),
                    st.sampled_from([torch.float32, torch.float64, torch.int64, torch.complex64, torch.uint8]),
                    st.sampled_from([0.0, 1.0, float("nan"), float("inf"), 3.0]))
ckpt_values = json_values | tensors


def _ckpt_paths(v, prefix=()):
    yield prefix
    if isinstance(v, dict):
        for k, x in v.items():
            yield from _ckpt_paths(x, prefix + (k,))
    elif isinstance(v, (list, tuple)) and not isinstance(v, str):
        for i, x in enumerate(list(v)[:4]):
            if isinstance(v, list):
                yield from _ckpt_paths(x, prefix + (i,))


@SLOW
@given(data=st.data())
def test_mutated_checkpoints_decode_or_end_in_an_input_error(tmp_path_factory, run_dir, data):
    """A checkpoint with one entry anywhere replaced by a random value (a tensor of another dtype, shape
    or NaN, a wrong type): decoding it in-process gives finite metrics or an InputError."""
    from opt import defaults
    from trainer.decode import decode_checkpoint

    state = torch.load(_ckpt(run_dir), weights_only=True)
    paths = [p for p in _ckpt_paths(state) if p[:1] != ("rng",) or len(p) <= 2]
    where = data.draw(st.sampled_from(paths))
    state = _replace(state, where, data.draw(ckpt_values))
    path = tmp_path_factory.mktemp("k") / "ckpt_1_6_x.pth"
    torch.save(state, path)
    try:
        d = decode_checkpoint(str(path), str(run_dir.parent.parent.parent / "data"), False, torch.device("cpu"),
                              defaults(), by_name=True)
    except InputError as e:
        assert "\n" not in str(e).strip()
        return
    assert all(v is None or math.isfinite(v) for v in d.metrics.values() if not isinstance(v, list))
    assert torch.isfinite(d.recon).all()


@SLOW
@given(raw=st.binary(max_size=64), cut=st.floats(0, 1))
def test_truncated_or_random_checkpoint_files_are_input_errors(tmp_path_factory, run_dir, raw, cut):
    src = _ckpt(run_dir).read_bytes()
    path = tmp_path_factory.mktemp("k") / "x.pth"
    path.write_bytes(src[: int(len(src) * cut)] + raw)
    _read_ok(readers.read_checkpoint, str(path))


# ---- options -------------------------------------------------------------------------------------------

numbers = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-2 ** 80, 2 ** 80) | st.sampled_from(
    [1e-45, 1e-300, 1e-30, 1e-9, 2 ** 32, 2 ** 32 - 1, -1, 0, 1, 0.5, 1e30, 2000])
INT_OPTIONS = {o.name for o in OPTIONS if o.kind == "int"}


@FAST
@given(values=st.dictionaries(st.sampled_from(sorted(RULES)), numbers, min_size=1, max_size=4),
       transform=st.sampled_from(["min_max", "sym_power", "box_cox", "z_score"]),
       model=st.sampled_from(["siren", "wire", "pemlp", "gauss", "finer"]))
def test_options_that_pass_the_check_give_a_usable_target(values, transform, model):
    """Random option values through the parser and the check: an OptionError (or the parser's one-line
    exit 2), or options whose transform maps a textured image to finite, non-constant targets and whose
    model builds with no empty parameter (on the meta device: any width, no memory)."""
    from components import transform as T
    from models import build_model

    argv = ["--input_path", "x.png", "--transform", transform, "--model_type", model]
    for k, v in values.items():
        argv += [f"--{k}", str(int(v) if k in INT_OPTIONS and isinstance(v, float) and math.isfinite(v) else v)]
    try:
        opts = check(build_parser().parse_args(argv))
    except OptionError:
        return
    except SystemExit as e:  # argparse: "--seed 0.5" is not an int; one line, exit 2
        assert e.code == 2
        return
    o = vars(opts)
    data = torch.from_numpy(smooth_image(12, 12).astype(np.float32)).permute(2, 0, 1)
    try:
        tf = T.build(o, 256.0, 0.0).fit(data)
    except UserError:
        return  # e.g. box_cox with --box_shift 0 on data reaching 0: a one-line refusal
    target = tf.forward(data)
    assert torch.isfinite(target).all() and float(target.max()) > float(target.min()), (values, tf.params)
    with torch.device("meta"):
        net = build_model(vars(resolve(opts)), 2, 3)
    assert all(p.numel() > 0 for p in net.parameters()), (values, model)


@FAST
@given(values=st.dictionaries(st.sampled_from(sorted(o.name for o in OPTIONS)), json_values, min_size=1, max_size=3))
def test_a_hand_edited_option_set_is_a_record_or_a_user_error(values):
    """What a resumed args.json or a checkpoint's options hold: checked for type, then for range."""
    from opt import defaults

    try:
        check_values(check_kinds({**defaults(), **values}, "args.json"))
    except UserError:
        pass


@FAST
@given(seeds=st.text(alphabet="0123456789,- xa", max_size=12), only=st.text(alphabet="sym_power,01 ", max_size=12),
       gpus=st.text(alphabet="0123,a -", max_size=6), minutes=st.sampled_from(["-1", "0", "nan", "inf", "1e-9", "5", "x"]))
def test_run_py_options_are_checked(seeds, only, gpus, minutes):
    import run

    try:
        args = run.check_args(run.parse(["001", "--seeds", seeds, "--only", only, "--gpus", gpus, "--time", minutes,
                                         "--dry_run"]))
        chosen = run.parse_seeds(args.seeds, args.extra)
        tasks = run.build_tasks("001", args.only, [], "./log", chosen)
    except UserError:
        return
    except SystemExit as e:
        assert e.code == 2
        return
    assert tasks and all(0 <= s < 2 ** 32 for s in chosen) and 1 / 60 <= args.time
