"""The SGD step the eager loop and the CUDA-graph replay share (issue: the GPU path).

What runs on a GPU is train_step captured once and replayed; these tests pin down, on the
CPU, that train_step is the plain loop's step, that the warm-up before a capture leaves
no trace, and that a failed capture goes on eagerly with the same numbers.
"""
import contextlib
import copy
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from common.config import TrainConfig
from common.data import nchw
from common.errors import UsageError
from common.graphs import GraphedSteps
from common.train import EagerSteps, autocast, check_precision, make_steps, train_step
from common.optim import make_optimizer
from common.train import build_model


CPU_RNG = (torch.get_rng_state, torch.set_rng_state)  # the generator the CPU tests stand in for CUDA's


def graphed_steps(model, optimizer, cfg, step, **options):
    """GraphedSteps of step, handed the eager step it falls back to, as make_steps builds it."""
    eager = EagerSteps(model, optimizer, cfg)
    return GraphedSteps(model, optimizer, cfg, step=step, eager_step=eager, **options)


def batches(n=6, size=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [
        (torch.randn(size, 32, 32, 3, generator=g), torch.randint(0, 10, (size,), generator=g))
        for _ in range(n)
    ]


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
    graphed = graphed_steps(model, optimizer, cfg, train_step)
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
    graphed = graphed_steps(model, optimizer, cfg, train_step, log=lines.append, rng=CPU_RNG)

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


def test_an_fp32_step_builds_no_autocast_so_torch_before_2_5_runs_it_on_an_apple_gpu(monkeypatch):
    """Before torch 2.5, torch.autocast("mps", ...) raises even with enabled=False."""
    def old_torch_autocast(device_type, *args, **kwargs):
        if device_type == "mps":
            raise RuntimeError(f"User specified an unsupported autocast device_type '{device_type}'")
        return contextlib.nullcontext()
    monkeypatch.setattr(torch, "autocast", old_torch_autocast)
    with autocast("fp32", torch.device("mps")):
        pass
    cfg = TrainConfig(lr=0.01)
    model, optimizer = fresh(cfg)
    (x, y), = batches(1)
    loss, _ = train_step(model, optimizer, x, y, precision="fp32")
    assert torch.isfinite(loss)


@pytest.mark.parametrize(
    "capability, refused", [((7, 5), True), ((7, 0), True), ((8, 0), False), ((9, 0), False)]
)
def test_bf16_on_a_gpu_is_refused_below_compute_capability_8(monkeypatch, capability, refused):
    """torch 2.4 and later answer is_bf16_supported() True on a T4 (7.5), where bf16 is emulated."""
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Tesla T4")
    if refused:
        with pytest.raises(
            UsageError, match=f"compute capability {capability[0]}.{capability[1]}.*--precision fp32"
        ):
            check_precision("bf16", torch.device("cuda"))
    else:
        check_precision("bf16", torch.device("cuda"))


@pytest.mark.parametrize("dropout", [0.5, 0.8])
def test_the_graph_self_check_passes_a_dropout_step_that_agrees(dropout):
    """A replay advances the generator's offset; the eager step of the self-check must start
    from the state the replay started from, or it draws other dropout masks. On the CPU the
    replay is stood in for by the very step it records, drawing from the CPU generator."""
    cfg = TrainConfig(lr=0.01, dropout=dropout)
    model, optimizer = fresh(cfg)
    graphed = graphed_steps(model, optimizer, cfg, train_step, rng=CPU_RNG)
    (x, y), = batches(1)
    snapshot, outputs = graphed._snapshot(), []

    def replay():
        outputs[:] = train_step(model, optimizer, x, y, set_to_none=False)
    assert graphed._replay_agrees(replay, outputs, x, y, snapshot)

    def replay_at_twice_the_lr():
        for group in optimizer.param_groups:
            group["lr"] *= 2
        replay()
        for group in optimizer.param_groups:
            group["lr"] /= 2
    assert not graphed._replay_agrees(replay_at_twice_the_lr, outputs, x, y, snapshot)


def no_cuda_streams(monkeypatch):
    stream = SimpleNamespace(wait_stream=lambda other: None)
    monkeypatch.setattr(torch.cuda, "Stream", lambda: stream)
    monkeypatch.setattr(torch.cuda, "current_stream", lambda: stream)
    monkeypatch.setattr(torch.cuda, "stream", lambda s: contextlib.nullcontext())


def cpu_cuda_graphs(monkeypatch):
    """CUDA graphs stood in for on the CPU, drawing as a GPU's do: recording a step runs it but
    draws nothing from the generator (a real capture only records kernels), and each replay
    runs the recorded step again into the recorded outputs, drawing its dropout masks from
    the generator's state at that moment. Returns the step to hand GraphedSteps."""
    no_cuda_streams(monkeypatch)
    recording = []

    class Graph:
        def replay(self):
            args, kwargs, outputs = self.recorded
            for out, new in zip(outputs, train_step(*args, **kwargs)):
                out.copy_(new)

    @contextlib.contextmanager
    def graph(g):
        before = torch.get_rng_state()
        recording.append(g)
        yield
        recording.pop()
        torch.set_rng_state(before)

    def step(*args, **kwargs):
        outputs = train_step(*args, **kwargs)
        if recording:
            recording[-1].recorded = (args, kwargs, outputs)
        return outputs
    monkeypatch.setattr(torch.cuda, "CUDAGraph", Graph)
    monkeypatch.setattr(torch.cuda, "graph", graph)
    return step


@pytest.mark.parametrize("dropout", [0.0, 0.5])
def test_a_capture_that_fails_after_its_warm_up_restores_the_weights_and_says_so(monkeypatch, dropout):
    """The warm-up steps the weights three times, and draws dropout masks, before the graph is
    recorded; a failure there must leave neither in the run: the eager steps that follow give
    an eager run's numbers. The CPU stands in for the GPU: streams that do nothing, and a graph
    that cannot be recorded."""
    cfg = TrainConfig(lr=0.05, batch_norm=True, widths=(8, 16), nesterov=True, dropout=dropout)
    reference_model, reference_opt = fresh(cfg)
    model, optimizer = fresh(cfg)
    lines = []
    graphed = graphed_steps(model, optimizer, cfg, train_step, log=lines.append, rng=CPU_RNG)
    no_cuda_streams(monkeypatch)

    def no_graph():
        raise RuntimeError("CUDA error: operation not permitted when stream is capturing")
    monkeypatch.setattr(torch.cuda, "CUDAGraph", no_graph)
    for i, (x, y) in enumerate(batches(3)):
        torch.manual_seed(10 + i)
        got = graphed(x, y)[0]
        torch.manual_seed(10 + i)
        assert torch.equal(got, train_step(reference_model, reference_opt, x, y)[0])
    for a, b in zip(reference_model.state_dict().values(), model.state_dict().values()):
        assert torch.equal(a, b)
    assert len(lines) == 1 and "capture failed" in lines[0] and "restored" in lines[0]
    assert "the same dropout masks" in lines[0]


def test_graphed_steps_with_dropout_draw_what_eager_steps_draw_and_resume_to_the_same_numbers(monkeypatch):
    """A resumed run captures its graphs again at its first step. The capture's own draws (its
    warm-up and self-check) must not count, or the resumed run's masks shift away from the
    uninterrupted run's. Three runs of 10 steps with dropout from one state, on stand-in graphs
    (cpu_cuda_graphs): eager; graphed; graphed, stopped after step 4 and resumed from the
    saved weights, momentum and generator (as a checkpoint does) into a new model."""
    cfg = TrainConfig(lr=0.02, dropout=0.5, widths=(8, 16))
    data = batches(10, seed=3)
    step = cpu_cuda_graphs(monkeypatch)
    lines = []

    def run(steps_of, part, state=None):
        model, optimizer = fresh(cfg)
        if state:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            torch.set_rng_state(state["rng"])
        else:
            torch.manual_seed(5)
        sgd_step = steps_of(model, optimizer)
        losses = [sgd_step(x, y)[0].item() for x, y in part]
        saved = {"model": copy.deepcopy(model.state_dict()),
                 "optimizer": copy.deepcopy(optimizer.state_dict()), "rng": torch.get_rng_state()}
        return losses, saved

    def graphed(model, optimizer):
        return graphed_steps(model, optimizer, cfg, step, log=lines.append, rng=CPU_RNG)
    eager, _ = run(lambda model, optimizer: EagerSteps(model, optimizer, cfg), data)
    uninterrupted, _ = run(graphed, data)
    first, saved = run(graphed, data[:4])
    resumed, _ = run(graphed, data[4:], state=saved)
    assert uninterrupted == eager
    assert first + resumed == uninterrupted
    assert lines == ["CUDA graph captured for batches of 8; its self-check agreed with an eager step"] * 3


def test_a_replay_that_disagrees_with_an_eager_step_is_named_on_the_console(monkeypatch, capsys):
    """A graph whose replay does not train (here: a stand-in that records nothing) fails its
    self-check; the run says so on the console, restores the weights and goes on eagerly."""
    cfg = TrainConfig(lr=0.05)
    reference_model, reference_opt = fresh(cfg)
    model, optimizer = fresh(cfg)
    graphed = graphed_steps(model, optimizer, cfg, train_step)  # logs with print
    no_cuda_streams(monkeypatch)
    monkeypatch.setattr(torch.cuda, "CUDAGraph", lambda: SimpleNamespace(replay=lambda: None))
    monkeypatch.setattr(torch.cuda, "graph", lambda g: contextlib.nullcontext())
    cpu = torch.Generator()
    monkeypatch.setattr(torch.cuda, "get_rng_state", cpu.get_state)
    monkeypatch.setattr(torch.cuda, "set_rng_state", cpu.set_state)
    for x, y in batches(3):
        assert torch.equal(graphed(x, y)[0], train_step(reference_model, reference_opt, x, y)[0])
    for a, b in zip(reference_model.state_dict().values(), model.state_dict().values()):
        assert torch.equal(a, b)
    printed = capsys.readouterr().out
    assert "CUDA graph capture failed (RuntimeError: a replayed step disagreed with an eager one)" in printed
    assert "eager steps" in printed and graphed.fell_back


def test_each_device_gets_its_memory_layout():
    """channels_last where the convolution kernels prefer it; NCHW on Apple GPUs, whose
    BatchNorm2d backward gives wrong gradients on channels_last inputs before torch 2.12."""
    from common.model import layout
    assert layout(torch.device("cpu")) == torch.channels_last
    assert layout(torch.device("cuda")) == torch.channels_last
    assert layout(torch.device("mps")) == torch.contiguous_format
    assert layout("meta") == torch.contiguous_format  # a device not named: PyTorch's default


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_the_model_and_every_input_it_sees_take_the_devices_layout(monkeypatch, memory_format):
    """With the CPU given a layout (NCHW stands in for an Apple GPU's), the weights and what
    every conv and batch norm receives, in training, evaluation, test-time views and 1.3.6's
    feeds, are in it: no channels_last tensor reaches the network on such a device."""
    from common import model as model_module
    from common.predict import feed_logits
    from common.train import evaluate, predict_logits
    monkeypatch.setitem(model_module.LAYOUTS, "cpu", memory_format)
    cfg = TrainConfig(lr=0.01, batch_norm=True, widths=(8, 16), dropout=0.5)
    model, optimizer = fresh(cfg)
    seen, layers = [], [m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.BatchNorm2d))]
    for module in layers:
        module.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    assert all(p.is_contiguous(memory_format=memory_format) for p in model.parameters() if p.dim() == 4)
    (x, y), = batches(1)
    train_step(model, optimizer, x, y)
    evaluate(model, x, y)
    predict_logits(model, x, tta_flip=True, tta_shift=True)
    feed_logits(model, torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8), "raw", torch.device("cpu"))
    assert len(layers) == 8 and len(seen) == 8 * (1 + 1 + 6 + 1)  # the step, eval, 6 views, 1 feed
    assert all(t.is_contiguous(memory_format=memory_format) for t in seen)
    assert all(p.is_contiguous(memory_format=memory_format) for p in model.parameters() if p.dim() == 4)
