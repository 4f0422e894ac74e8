"""Question 1.3.7: the student's recipe, the best recipe, augmentation and the schedule."""
import json
import re
from pathlib import Path

import pytest
import torch

from common.model import ConvNet
from common.config import BN_ONECYCLE, STUDENT, TrainConfig
from common.data import augment_batch, epoch_shifts
from common.optim import make_optimizer
from common.train import predict_logits
from conftest import run_script


REPORT_TEXT = Path(__file__).resolve().parents[2] / "shared" / "seed" / "assignment2_report.txt"


def test_student_recipe_is_the_reports():
    """Each setting of the student's recipe is read from the report's list of 1.3.7 changes;
    every other one is the baseline's (its "Epoch has not been adjusted")."""
    if not REPORT_TEXT.is_file():
        pytest.skip(f"{REPORT_TEXT} is not here: the report's text comes with ../shared beside the clone")
    text = REPORT_TEXT.read_text()
    said = {
        "lr": float(re.search(r"learning rate adjusted to ([\d.]+)", text).group(1)),
        "momentum": float(re.search(r"Momentum adjusted to ([\d.]+)", text).group(1)),
        "dropout": float(re.search(r"Dropout has been slightly increased to ([\d.]+)", text).group(1)),
        "activation": re.search(r"we are now using (\w+)", text).group(1),
    }
    assert STUDENT == said
    assert "Epoch has not been adjusted (thus remained at 20 epochs)" in text
    student = TrainConfig(**STUDENT)
    assert student.epochs == 20 and student.batch_size == TrainConfig().batch_size


def test_bn_onecycle_recipe_is_the_same_family_with_a_third_stage():
    model = ConvNet(widths=BN_ONECYCLE["widths"], batch_norm=True)
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    assert [type(m).__name__ for m in model].count("Conv2d") == 6
    names = list(dict(model.named_children()))
    # A norm after every conv; each stage pools before its last norm and activation.
    assert [n for n in names if n.startswith("bn")] == [f"bn{i}" for i in range(1, 7)]
    assert names[names.index("conv2"):names.index("conv3")] == ["conv2", "pool1", "bn2", "relu2", "dropout1"]
    assert not any(m.bias is not None for m in model if isinstance(m, torch.nn.Conv2d))


def test_pooling_before_the_last_norm_is_the_same_as_after_it_in_eval_mode():
    # Max-pool commutes with ReLU and with batch norm's per-channel affine map when its
    # scale is positive: the reordering moves work, not the function the layers compute.
    torch.manual_seed(0)
    conv_out = torch.randn(4, 32, 32, 32)
    bn = torch.nn.BatchNorm2d(32).eval()
    bn.running_mean.normal_(), bn.running_var.uniform_(0.5, 2), bn.bias.data.normal_()
    bn.weight.data.uniform_(0.1, 2)
    pool, relu = torch.nn.MaxPool2d(2), torch.nn.ReLU()
    assert torch.allclose(relu(bn(pool(conv_out))), pool(relu(bn(conv_out))), atol=1e-6)


def augment_one_batch(x, generator, pad=4):
    """A batch augmented as a training step does: its offsets and coin flips drawn as the
    epoch's are, then the crop."""
    (dy, dx, flip), = epoch_shifts([len(x)], generator, pad, random_flips=True, device=x.device)
    return augment_batch(x, dy, dx, flip, pad)


def test_augmentation_keeps_shapes_labels_and_range_and_changes_pixels():
    torch.manual_seed(0)
    x = torch.rand(64, 32, 32, 3) * 4 - 2  # N x H x W x C, normalized-looking values
    labels = torch.arange(64) % 10
    out = augment_one_batch(x, torch.Generator().manual_seed(1))
    assert out.shape == x.shape and out.dtype == x.dtype
    assert out.min() >= x.min() and out.max() <= x.max()  # reflect padding adds no new values
    changed = (out != x).flatten(1).any(1)
    assert changed.float().mean() > 0.9  # almost every image moved or flipped
    assert torch.equal(labels, torch.arange(64) % 10)  # labels are not touched


def test_augmentation_is_a_crop_of_the_padded_image_or_its_mirror():
    x = torch.arange(1 * 32 * 32 * 1, dtype=torch.float32).reshape(1, 32, 32, 1)
    padded = torch.nn.functional.pad(x.permute(0, 3, 1, 2), (4, 4, 4, 4), mode="reflect")[0, 0]
    g = torch.Generator().manual_seed(3)
    for _ in range(20):
        out = augment_one_batch(x, g)[0, :, :, 0]
        crops = [padded[dy:dy + 32, dx:dx + 32] for dy in range(9) for dx in range(9)]
        assert any(torch.equal(out, c) or torch.equal(out, c.flip(1)) for c in crops)


class RecordViews(torch.nn.Module):
    """A stand-in model that keeps every batch it is shown and returns its first pixel."""
    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, x):
        self.seen.append(x.clone())
        return x[:, :, 0, 0]


def test_test_time_views_are_the_image_its_one_pixel_shifts_and_their_mirrors():
    x = torch.arange(2 * 32 * 32 * 3, dtype=torch.float32).reshape(2, 32, 32, 3)  # N x H x W x C
    image = x.permute(0, 3, 1, 2)
    for flip, shift, count in ((False, False, 1), (True, False, 2), (False, True, 3), (True, True, 6)):
        model = RecordViews()
        logits = predict_logits(model, x, tta_flip=flip, tta_shift=shift)
        assert len(model.seen) == count and all(v.shape == image.shape for v in model.seen)
        assert torch.equal(model.seen[0], image)
        assert torch.allclose(logits, sum(v[:, :, 0, 0] for v in model.seen) / count)  # the mean
    moved_down_right, moved_up_left = model.seen[1], model.seen[2]
    assert torch.equal(moved_down_right[:, :, 1:, 1:], image[:, :, :-1, :-1])
    assert torch.equal(moved_up_left[:, :, :-1, :-1], image[:, :, 1:, 1:])
    assert all(torch.equal(m, v.flip(3)) for m, v in zip(model.seen[3:], model.seen[:3]))


def test_onecycle_schedule_at_known_steps():
    cfg = TrainConfig(lr=0.1, schedule="onecycle", warmup=0.2)
    model = torch.nn.Linear(2, 2)
    optimizer, scheduler = make_optimizer(model, cfg, steps_total=100)
    lrs = []
    for _ in range(100):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs[0] == pytest.approx(0.01)  # starts at lr / 10
    assert max(lrs) == pytest.approx(0.1) and lrs.index(max(lrs)) in (19, 20)  # peak after 20%
    assert lrs[-1] < 0.002  # anneals to nearly zero
    assert all(a <= b for a, b in zip(lrs[:19], lrs[1:20]))  # rises, then
    assert all(a >= b for a, b in zip(lrs[20:], lrs[21:]))  # falls


def test_weight_decay_spares_biases_and_norms():
    cfg = TrainConfig(weight_decay=5e-4)
    optimizer, _ = make_optimizer(ConvNet(batch_norm=True), cfg, 10)
    decayed, *spared = optimizer.param_groups
    assert decayed["weight_decay"] == 5e-4 and all(p.ndim > 1 for p in decayed["params"])
    assert all(g["weight_decay"] == 0 and all(p.ndim == 1 for p in g["params"]) for g in spared)


@pytest.mark.e2e
@pytest.mark.parametrize("flag, value", [("--label-smoothing", "1.5"), ("--weight-decay", "-1")])
def test_impossible_best_recipe_settings_get_a_message_not_a_traceback(tmp_path, flag, value):
    result = run_script("q1_3_improve.py", flag, value, "--out", tmp_path)
    assert result.returncode != 0 and flag in result.stderr
    assert "Traceback" not in result.stderr


def test_both_recipes_quick_keep_each_others_results(smoke_run):
    """The smoke run trains the student's recipe, then the best one, into one folder."""
    out = smoke_run.out
    record = json.loads((out / "q1_3_improve.json").read_text())
    assert sorted(record["runs"]) == ["best", "student"]
    assert record["runs"]["student"]["train_config"]["activation"] == "gelu"
    assert record["runs"]["best"]["train_config"]["net"] == "whitened"
    for name in ("q1_3_7_student_loss.png", "q1_3_7_student_accuracy.png",
                 "q1_3_7_best_loss.png", "q1_3_7_best_accuracy.png", "q1_3_7_accuracy_against_time.png"):
        assert name in record["figures"] and (out / name).is_file()
    for key in ("best_val_acc", "best_val_epoch", "final_val_acc", "final_test_acc", "history", "steps"):
        assert key in record["runs"]["best"] and key in record["runs"]["student"]
    # The best recipe reports what its test-time views add, and their validation accuracy.
    best = record["runs"]["best"]
    for key in ("final_test_acc_flip_only", "final_test_acc_without_tta", "final_val_acc_all_views"):
        assert 0 <= best[key] <= 100
    assert "final_test_acc_flip_only" not in record["runs"]["student"]


@pytest.mark.parametrize("alternate_flip", [False, True])
def test_augmentation_moves_its_random_draws_to_the_device_once_an_epoch_not_every_step(cifar_root,
                                                                                         alternate_flip):
    """A copy to a GPU makes the host wait for it: the training steps must not make one each.
    Counted on the CPU as calls of Tensor.to during an epoch of 4 steps and one of 8."""
    from common.data import load_cifar10, split_indices, to_device
    from common.train import train
    data = load_cifar10(cifar_root, offline=True, skip_checksum=True)
    train_idx, val_idx = split_indices(1000, 100, seed=0)
    real_to, calls = torch.Tensor.to, []

    def counted_to(self, *args, **kwargs):
        calls.append(1)
        return real_to(self, *args, **kwargs)

    def transfers_in_an_epoch(n_train):
        tensors = to_device(data, train_idx[:n_train], val_idx, torch.device("cpu"))
        cfg = TrainConfig(epochs=1, batch_size=50, log_every=100, augment=True, alternate_flip=alternate_flip,
                          widths=(4, 8))
        calls.clear()
        torch.Tensor.to = counted_to
        try:
            train(cfg, tensors, torch.device("cpu"), log=lambda *_: None)
        finally:
            torch.Tensor.to = real_to
        return len(calls)
    assert transfers_in_an_epoch(200) == transfers_in_an_epoch(400)
