"""What .ci/gpu sends to the remote GPU machine (at most 64 MiB) and what comes back."""
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO
from common import speed
import torch


def test_the_packed_data_unpack_to_the_same_jpeg_bytes(tmp_path):
    opening = b"\xff\xd8shared tables and headers"
    bodies = [b"first image", b"second, longer image", b"3"]
    files = [opening + body for body in bodies]
    offsets = np.cumsum([0] + [len(f) for f in files])
    shared = tmp_path / "shared"
    shared.mkdir()
    np.savez(shared / "cifar10_jpeg.npz", jpeg=np.frombuffer(b"".join(files), np.uint8), offsets=offsets,
             labels=np.array([3, 1, 4]), is_test=np.array([False, False, True]))
    (shared / "build_batches.py").write_text("# the builder\n")
    carry = tmp_path / "carry"
    for command in (["pack", shared, carry], ["unpack", carry]):
        subprocess.run(
            [sys.executable, REPO / ".ci" / "gpu_data.py", *command], check=True, capture_output=True
        )
    packed = np.load(carry / "cifar10_headless.npz")
    assert packed["opening"].tobytes() == opening  # stored once, not three times
    again = np.load(carry / "cifar10_jpeg.npz")
    assert again["jpeg"].tobytes() == b"".join(files) and list(again["offsets"]) == list(offsets)
    assert list(again["labels"]) == [3, 1, 4] and list(again["is_test"]) == [False, False, True]
    assert (carry / "build_batches.py").read_text() == "# the builder\n"


def test_timing_waits_for_an_apple_gpu_too(monkeypatch):
    waited = []
    monkeypatch.setattr(torch.mps, "synchronize", lambda: waited.append("mps"))
    monkeypatch.setattr(torch.cuda, "synchronize", lambda: waited.append("cuda"))
    for device in ("cpu", "mps", "cuda"):
        speed.sync(torch.device(device))
    assert waited == ["mps", "cuda"]


# A stand-in for the remote machine's python3, for .ci/gpu run here: each command prints what
# the real one would, by $FAKE_GPU: "good" (a graph captured and checked), "no_graph" (the smoke
# run never captured one), "killed" (the machine's time limit kills the whole run, SIGKILL, while
# every question is training).
FAKE_PYTHON = r"""#!/usr/bin/env bash
case "$*" in
    *"-c import torch"*) echo "torch 2.x NVIDIA H200 capability (9, 0)" ;;
    *q1_3_improve.py*)
        echo "epoch  1/5 step   50/110 loss 2.2"
        if [ "$FAKE_GPU" != no_graph ]; then
            echo "CUDA graph captured for batches of 32; its self-check agreed with an eager step"
        fi ;;
    *gpu_resume.py*) echo "resume check on cuda: the resumed run with dropout equals the uninterrupted one" ;;
    *common.everything*)
        echo "1.1 data: done in 3 s"
        mkdir -p figures/gpu && echo '{}' > figures/gpu/q1_1_data.json
        if [ "$FAKE_GPU" = killed ]; then kill -9 "$PPID"; sleep 5; fi ;;
    *) echo "ran $*" ;;
esac
"""


def run_gpu_script(tmp_path, mode):
    """.ci/gpu in a copy of the repository's layout, its data already unpacked, with the stand-in
    python3 first on PATH; returns (the process, $OUT)."""
    import os
    import shutil
    repo, out, bin_dir = tmp_path / "repo", tmp_path / "out", tmp_path / "bin"
    (repo / ".ci").mkdir(parents=True)
    shutil.copy(REPO / ".ci" / "gpu", repo / ".ci" / "gpu")
    (repo / "carry" / "data" / "cifar-10-batches-py").mkdir(parents=True)
    (repo / "carry" / "data" / "cifar-10-batches-py" / "test_batch").touch()
    (repo / "figures").mkdir()
    (repo / "figures" / "REPORT.md").write_text("# report\n")
    bin_dir.mkdir()
    (bin_dir / "python3").write_text(FAKE_PYTHON)
    (bin_dir / "python3").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "OUT": str(out),
           "FAKE_GPU": mode}
    done = subprocess.run(["bash", repo / ".ci" / "gpu"], env=env, capture_output=True, text=True, timeout=60)
    return done, out


def archived(out):
    import tarfile
    with tarfile.open(out / "gpu_results.tar.gz") as archive:
        return {member.name: archive.extractfile(member).read().decode() for member in archive.getmembers()
                if member.isfile()}


@pytest.mark.e2e
def test_a_gpu_run_killed_at_its_time_limit_still_returns_the_steps_that_ran(tmp_path):
    done, out = run_gpu_script(tmp_path, "killed")
    assert done.returncode == -9  # killed: no exit trap ran
    assert "1.1 data: done in 3 s" in (out / "gpu_logs" / "everything.log").read_text()
    files = archived(out)  # packed after the steps before the one killed
    assert "self-check agreed" in files["gpu_logs/graph_smoke.log"]
    assert "resumed run with dropout equals" in files["gpu_logs/resume.log"]


def test_a_gpu_smoke_run_that_captured_no_graph_fails_the_gpu_check(tmp_path):
    done, out = run_gpu_script(tmp_path, "no_graph")
    assert done.returncode == 1 and "no CUDA graph was captured and checked" in done.stderr
    assert "gpu_logs/graph_smoke.log" in archived(out)
    good, out = run_gpu_script(tmp_path / "good", "good")
    assert good.returncode == 0, good.stderr
    files = archived(out)
    assert files["figures/gpu/q1_1_data.json"] == "{}\n" and files["figures/REPORT.md"] == "# report\n"
    assert {"gpu_logs/bench.log", "gpu_logs/report.log"} <= set(files)
