"""Nothing a user made is lost: smoke runs keep to their own folder and never replace full
results, runs that finish together all keep theirs, a divergent run stops with a message
and keeps its last checkpoint, and a write that fails names the file and leaves the
earlier one whole. Every JSON the package writes is strict JSON."""
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import torch

from common import cli, train as training
from common.config import TrainConfig
from q1_3_dropout import by_validation
from common.data import DeviceData
from common.errors import Diverged
from common.checkpoint import Checkpoints
from conftest import REPO, run_script

FAST = ["--skip-checksum", "--epochs", "1", "--val-size", "100"]


def strict_json(path):
    """The record, read by a parser that refuses NaN and Infinity, as browsers and jq do."""
    def refuse(token):
        raise ValueError(f"{path} holds {token}, which is not JSON")
    return json.loads(Path(path).read_text(), parse_constant=refuse)


@pytest.mark.e2e
def test_a_smoke_run_writes_to_its_own_folder_by_default(tmp_path):
    result = run_script("q1_2_model.py", "--quick", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert strict_json(tmp_path / "smoke" / "q1_2_model.json")["quick"] is True
    assert not (tmp_path / "figures").exists()


def test_a_smoke_run_never_replaces_full_results(tmp_path, fresh_cifar_root):
    out = tmp_path / "figures"
    out.mkdir()
    full = json.dumps({"quick": False, "history": {"epoch": [1]}, "final_test_acc": 70.0})
    (out / "q1_3_train.json").write_text(full)
    result = run_script("q1_3_train.py", "--quick", "--data-dir", fresh_cifar_root, "--skip-checksum",
                        "--out", out, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "holds full results (q1_3_train.json)" in result.stderr and "smoke/" in result.stderr
    assert (out / "q1_3_train.json").read_text() == full
    assert sorted(p.name for p in out.iterdir()) == ["q1_3_train.json"]


def test_runs_into_different_folders_never_share_a_checkpoint_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    parser = cli.base_parser("")
    cli.add_training_flags(parser)
    folders = {
        cli.parse(parser, ["--out", out]).checkpoint_dir for out in ("figures", "figures/gpu", "smoke")
    }
    assert folders == {"checkpoints/figures", "checkpoints/figures/gpu", "checkpoints/smoke"}


# Loaded into each process of finish_together: inside every locked section, wait until the
# other process has reached a locked section too (or has ended), so that their sections meet.
# With a working lock the other waits outside, and the sections run one after the other; with a
# lock that does nothing both read the record before either writes it, and a run is lost.
MEET_INSIDE_THE_LOCK = """
import atexit, contextlib, os, time
from pathlib import Path
import common.files as files

meeting = Path(os.environ["LOCK_MEETING"])
me, real_lock = str(os.getpid()), files.locked
atexit.register(lambda: (meeting / f"{me}.done").touch())


def others(suffix):
    return [p for p in meeting.glob(f"*.{suffix}") if not p.name.startswith(me + ".")]


@contextlib.contextmanager
def locked(folder):
    here = meeting / f"{me}.here"
    here.touch()
    try:
        with real_lock(folder) as held:
            deadline = time.time() + 120
            while not others("here") and len(others("done")) < int(os.environ["LOCK_MEETING_OTHERS"]):
                if time.time() > deadline:
                    raise RuntimeError("the other process never reached a lock")
                time.sleep(0.02)
            yield held
    finally:
        here.unlink()


files.locked = locked
"""


def finish_together(cwd, commands):
    """Start the scripts at once, as separate processes of one thread each, each locked section
    held until the other process reaches one (MEET_INSIDE_THE_LOCK), and wait for all."""
    meeting = Path(cwd) / "meeting"
    meeting.mkdir()
    (meeting / "sitecustomize.py").write_text(MEET_INSIDE_THE_LOCK)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(meeting), str(REPO)]), "OMP_NUM_THREADS": "1",
           "LOCK_MEETING": str(meeting), "LOCK_MEETING_OTHERS": str(len(commands) - 1)}
    procs = [subprocess.Popen([sys.executable, str(REPO / script), *map(str, args)], cwd=cwd, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for script, *args in commands]
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err


@pytest.mark.e2e
def test_two_sweeps_finishing_into_one_folder_both_keep_their_runs(tmp_path, fresh_cifar_root):
    """Two real processes, one p each, into one folder: the record holds both, and 1.3.6
    is the better one's."""
    out = tmp_path / "shared"
    finish_together(tmp_path, [["q1_3_dropout.py", "--dropouts", p, "--data-dir", fresh_cifar_root, *FAST,
                                "--out", out] for p in ("0.2", "0.5")])
    record = strict_json(out / "q1_3_dropout.json")
    assert sorted(record["runs"]) == ["0.2", "0.5"]
    assert record["best_dropout"] == float(by_validation(record["runs"]))
    assert "p = 0.2" in (out / "REPORT.md").read_text() and "p = 0.5" in (out / "REPORT.md").read_text()
    assert not list(out.glob(".*partial*"))


@pytest.mark.e2e
def test_two_recipes_finishing_into_one_folder_both_keep_their_runs(tmp_path, fresh_cifar_root):
    out = tmp_path / "shared"
    finish_together(
        tmp_path,
        [
            [
                "q1_3_improve.py",
                "--recipe",
                recipe,
                "--quick",
                "--data-dir",
                fresh_cifar_root,
                *FAST,
                "--out",
                out,
            ]
            for recipe in ("student", "best")
        ],
    )
    record = strict_json(out / "q1_3_improve.json")
    assert sorted(record["runs"]) == ["best", "student"]
    # each recipe keeps what its own smoke run changed
    assert record["runs"]["student"]["quick_settings"] != record["runs"]["best"]["quick_settings"]


@pytest.mark.e2e
def test_a_divergent_run_stops_with_a_message_and_writes_no_nan(tmp_path, cifar_root):
    out = tmp_path / "out"
    result = run_script("q1_3_train.py", "--quick", "--lr", "100", "--data-dir", cifar_root,
                        "--skip-checksum", "--out", out, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "Training diverged: the loss stopped being a finite number in epoch 1" in result.stderr
    assert "--lr 100 (100000 times the report's 0.001)" in result.stderr and "smaller --lr" in result.stderr
    assert "loss nan" not in result.stdout
    assert not (out / "q1_3_train.json").exists()
    for path in out.rglob("*.json"):
        strict_json(path)


def test_a_run_that_diverges_later_keeps_its_last_finished_epoch(tmp_path, monkeypatch):
    """The weights turn NaN in epoch 2: the run stops there, and epoch 1's checkpoint stays."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 32, 32, 3, generator=g).contiguous()
    y = torch.randint(0, 10, (256,), generator=g)
    data = DeviceData(x, y, x[:64], y[:64], x[:64], y[:64])
    cfg = TrainConfig(epochs=3, batch_size=32, lr=0.01, log_every=4)
    original = training.train_epoch

    def poisoned(sgd_step, model, *args, **kwargs):
        poisoned.calls += 1
        if poisoned.calls == 2:
            with torch.no_grad():
                next(model.parameters()).fill_(float("nan"))
        return original(sgd_step, model, *args, **kwargs)
    poisoned.calls = 0
    monkeypatch.setattr(training, "train_epoch", poisoned)
    points = Checkpoints(tmp_path, "run")
    with pytest.raises(
        Diverged, match=r"in epoch 2, within steps 1 to 4 .*The last finished epoch \(1\) is kept"
    ):
        training.train(cfg, data, torch.device("cpu"), points, log=lambda *_: None)
    assert torch.load(points.path("last"), weights_only=True)["epoch"] == 1


def _small_disk(tmp_path):
    """A 300 KB tmpfs where the machine allows mounting one; None elsewhere."""
    folder = tmp_path / f"disk{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(folder)], capture_output=True
    )
    return folder if done.returncode == 0 else None


@pytest.mark.e2e
def test_a_full_disk_under_the_checkpoints_ends_in_one_paragraph(tmp_path, cifar_root):
    disk = _small_disk(tmp_path)
    args = [
        "q1_3_train.py",
        "--quick",
        "--data-dir",
        cifar_root,
        "--skip-checksum",
        "--out",
        tmp_path / "out",
    ]
    try:
        if disk is not None:
            (disk / "q1_3_train_quick_last.pt").write_text("the earlier checkpoint")
            result = run_script(*args, "--checkpoint-dir", disk, cwd=tmp_path)
        else:  # no mount here: the same write, failing as torch's writer fails on a full disk
            disk = tmp_path / "ckpt"
            disk.mkdir()
            (disk / "q1_3_train_quick_last.pt").write_text("the earlier checkpoint")
            result = _run_with_a_full_disk(args + ["--checkpoint-dir", disk], tmp_path)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert (
            f"Could not write {disk}/q1_3_train_quick_last.pt: no space is left on that disk" in result.stderr
        )
        assert "--checkpoint-dir" in result.stderr
        assert (disk / "q1_3_train_quick_last.pt").read_text() == "the earlier checkpoint"
        assert not list(disk.glob(".*partial*"))
    finally:
        if disk is not None and disk.is_mount():
            subprocess.run(["umount", str(disk)])


def _run_with_a_full_disk(args, tmp_path):
    code = (
        "import runpy, shutil, sys, torch\n"
        "def full(obj, f, *a, **k):\n"
        "    open(f, 'wb').write(b'half')\n"
        "    raise RuntimeError('[enforce fail at inline_container.cc:672] . unexpected pos 121728 vs "
        "121616')\n"
        "torch.save = full\n"
        "shutil.disk_usage = lambda p: shutil._ntuple_diskusage(10, 10, 0)\n"
        f"sys.argv = {[str(a) for a in args]!r}\n"
        f"runpy.run_path({str(REPO / args[0])!r}, run_name='__main__')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env,
                          timeout=600)


@pytest.mark.e2e
def test_an_output_folder_in_the_way_ends_in_one_paragraph(tmp_path, cifar_root):
    (tmp_path / "blocked").write_text("a file where the checkpoint folder should be")
    result = run_script("q1_3_train.py", "--quick", "--data-dir", cifar_root, "--skip-checksum", "--out",
                        tmp_path / "out", "--checkpoint-dir", tmp_path / "blocked" / "ckpt", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "Could not write" in result.stderr and "blocked" in result.stderr
    assert (tmp_path / "blocked").read_text() == "a file where the checkpoint folder should be"


COUNT_UNDER_THE_LOCK = """
import sys, time
from pathlib import Path
from common.files import locked
folder = Path(sys.argv[1])
with locked(folder):  # read, change, write: what a script does to a record several runs share
    count = int((folder / "count").read_text())
    time.sleep(0.2)
    (folder / "count").write_text(str(count + 1))
"""


@pytest.mark.parametrize("lock_works", [True, False])
def test_two_processes_whose_locked_sections_meet_both_count(tmp_path, lock_works):
    """The check finish_together relies on, shown on its own: the two locked sections meet (each
    waits inside for the other to arrive), so a lock that does nothing loses an update."""
    meeting = tmp_path / "meeting"
    meeting.mkdir()
    code = MEET_INSIDE_THE_LOCK if lock_works else MEET_INSIDE_THE_LOCK.replace(
        "me, real_lock = str(os.getpid()), files.locked",
        "me, real_lock = str(os.getpid()), lambda folder: contextlib.nullcontext(folder)")
    (meeting / "sitecustomize.py").write_text(code)
    (tmp_path / "count").write_text("0")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(meeting), str(REPO)]),
           "LOCK_MEETING": str(meeting), "LOCK_MEETING_OTHERS": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", COUNT_UNDER_THE_LOCK, str(tmp_path)], env=env,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    assert (tmp_path / "count").read_text() == ("2" if lock_works else "1")
