"""On the GPU: a graphed run with dropout, stopped after an epoch and resumed, gives the
uninterrupted run's numbers (run by .ci/gpu; on the CPU, tests/test_step.py's stand-in checks
the same logic). cuDNN is made deterministic here, so any difference is the resume's.

    python .ci/gpu_resume.py DATA_DIR CHECKPOINT_DIR [DEVICE]    (DEVICE: cuda, or cpu to try it here)
"""
import sys

import torch

from common.checkpoint import Checkpoints
from common.cli import recipe_config
from common.config import QUICK, STUDENT
from common.data import load_cifar10, split_indices, subset_for_quick, to_device
from common.errors import Interrupted
from common.train import train


def main(data_dir, checkpoint_dir, device="cuda"):
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    device = torch.device(device)
    data = subset_for_quick(load_cifar10(data_dir, offline=True, skip_checksum=True), 4000, 1000)
    train_idx, val_idx = split_indices(len(data.train_labels), 500, seed=0)
    tensors = to_device(data, train_idx, val_idx, device)
    # A constant schedule is what a CUDA graph captures (onecycle runs eager steps).
    cfg = recipe_config(STUDENT, {**QUICK["student"], "schedule": "constant", "epochs": 3})
    lines = []

    def log(line):
        print(line)
        lines.append(line)
    uninterrupted, _, _ = train(cfg, tensors, device, log=log)
    checkpoints = Checkpoints(checkpoint_dir, "gpu_resume")

    def stop_in_epoch_2(line):
        log(line)
        if line.startswith("epoch  2/"):
            raise KeyboardInterrupt
    try:
        train(cfg, tensors, device, checkpoints=checkpoints, log=stop_in_epoch_2)
    except Interrupted as stop:
        print(stop)
    resumed, _, _ = train(cfg, tensors, device, checkpoints=checkpoints, resume=True, log=log)
    captured = sum("CUDA graph captured" in line for line in lines)
    failed = sum("capture failed" in line for line in lines)
    a, b = uninterrupted["history"], resumed["history"]
    differences = {key: max(abs(x - y) for x, y in zip(a[key], b[key]))
                   for key in ("train_loss", "train_acc", "val_loss", "val_acc")}
    print(f"graph captures {captured}, failed {failed}; largest difference resumed - uninterrupted: "
          + ", ".join(f"{key} {value:.3g}" for key, value in differences.items()))
    graphed = captured > 0 or device.type != "cuda"
    same = graphed and failed == 0 and all(value == 0 for value in differences.values())
    print(f"resume check on {device.type}: " + ("the resumed run with dropout equals the uninterrupted one"
                                                if same else "FAILED"))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
