"""The SGD step the eager loop and the CUDA-graph replay share (issue: the GPU path).

What runs on a GPU is train_step captured once and replayed; these tests pin down, on the
CPU, that train_step is the plain loop's step, that the warm-up before a capture leaves
no trace, and that a failed capture goes on eagerly with the same numbers.
"""
import torch
import torch.nn.functional as F

from common.config import TrainConfig
from common.data import nchw
from common.step import EagerSteps, GraphedSteps, make_steps, train_step
from common.optim import make_optimizer
from common.train import build_model


def batches(n=6, size=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(size, 32, 32, 3, generator=g), torch.randint(0, 10, (size,), generator=g)) for _ in range(n)]


def fresh(cfg):
    model = build_model(cfg, torch.device("cpu"))
    optimizer, _ = make_optimizer(model, cfg, steps_total=100)
    return model, optimizer


def test_the_shared_step_gives_the_plain_loops_losses_step_for_step():
    cfg = TrainConfig(lr=0.01, dropout=0.3, label_smoothing=0.1)
    plain_model, plain_opt = fresh(cfg)
    model, optimizer = fresh(cfg)
    steps = EagerSteps(model, optimizer, cfg)
    for x, y in batches():
        torch.manual_seed(1)  # the same dropout masks for both
        loss = F.cross_entropy(plain_model(nchw(x)), y, label_smoothing=0.1)
        plain_opt.zero_grad()
        loss.backward()
        plain_opt.step()
        torch.manual_seed(1)
        summed, right = steps(x, y)
        assert torch.equal(summed, loss.detach() * len(y)) and 0 <= int(right) <= len(y)
    for a, b in zip(plain_model.parameters(), model.parameters()):
        assert torch.equal(a, b)


def test_warm_up_before_a_capture_leaves_no_trace():
    """Snapshot, three warm-up steps that create momentum buffers, restore: the next step is
    the step a fresh model takes (a zeroed buffer is SGD's fresh state)."""
    cfg = TrainConfig(lr=0.05, batch_norm=True, widths=(8, 16), nesterov=True)
    (x, y), *warm = batches(4)
    reference_model, reference_opt = fresh(cfg)
    expected = train_step(reference_model, reference_opt, x, y)
    model, optimizer = fresh(cfg)
    graphed = GraphedSteps(model, optimizer, cfg)
    snapshot = graphed._snapshot()
    for wx, wy in warm:
        train_step(model, optimizer, wx, wy, set_to_none=False)
    graphed._restore(snapshot)
    got = train_step(model, optimizer, x, y, set_to_none=False)
    assert torch.equal(got[0], expected[0])
    for a, b in zip(reference_model.state_dict().values(), model.state_dict().values()):
        assert torch.equal(a, b)  # weights and batch-norm statistics alike


def test_a_failed_capture_says_so_and_goes_on_eagerly(monkeypatch):
    cfg = TrainConfig(lr=0.01)
    reference_model, reference_opt = fresh(cfg)
    model, optimizer = fresh(cfg)
    lines = []
    graphed = GraphedSteps(model, optimizer, cfg, log=lines.append)

    def impossible(*args):
        raise RuntimeError("operation not permitted when stream is capturing")
    monkeypatch.setattr(graphed, "_capture", impossible)
    for x, y in batches(3):
        assert torch.equal(graphed(x, y)[0], train_step(reference_model, reference_opt, x, y)[0])
    assert len(lines) == 1 and "capture failed" in lines[0] and "eager steps" in lines[0]


def test_the_cpu_and_scheduled_runs_take_eager_steps():
    cfg = TrainConfig()
    model, optimizer = fresh(cfg)
    assert type(make_steps(model, optimizer, None, cfg, torch.device("cpu"))) is EagerSteps


def test_nothing_float64_reaches_the_training_device(cifar_root):
    """Apple GPUs (MPS) have no float64: the engine keeps everything it puts on the device in
    float32 (images, weights, losses) or int64 (labels, indices); only mean_and_std (1.1.3)
    accumulates in float64, on the host."""
    from common.data import load_cifar10, split_indices, to_device
    from common.train import train
    data = load_cifar10(cifar_root, offline=True, skip_checksum=True)
    train_idx, val_idx = split_indices(300, 100, seed=0)
    tensors = to_device(data, train_idx, val_idx, torch.device("cpu"))
    assert {t.dtype for t in (tensors.train_x, tensors.val_x, tensors.test_x)} == {torch.float32}
    assert {t.dtype for t in (tensors.train_y, tensors.val_y, tensors.test_y)} == {torch.int64}
    seen = []
    real_to = torch.Tensor.to

    def record_to(self, *args, **kwargs):
        out = real_to(self, *args, **kwargs)
        seen.append(out.dtype)
        return out
    torch.Tensor.to = record_to
    try:
        cfg = TrainConfig(epochs=1, batch_size=50, log_every=2, batch_norm=True, augment=True,
                          schedule="onecycle", tta_flip=True, tta_shift=True, widths=(8, 16))
        result, model, _ = train(cfg, to_device(data, train_idx[:200], val_idx, torch.device("cpu")),
                                 torch.device("cpu"), log=lambda *_: None)
    finally:
        torch.Tensor.to = real_to
    assert torch.float64 not in seen
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_an_apple_gpu_asked_for_where_there_is_none_is_a_clear_error(tmp_path, monkeypatch):
    import pytest
    from common.cli import pick_device
    from common.errors import UsageError
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(UsageError, match="--device mps was asked for.*--device cpu"):
        pick_device("mps")
