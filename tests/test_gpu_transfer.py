"""What .ci/gpu sends to the remote GPU machine (at most 64 MiB) and what comes back."""
import subprocess
import sys

import numpy as np

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
