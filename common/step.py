"""One SGD step, shared by the eager loop and its CUDA-graph replay.

On a GPU a batch of 32 through this ConvNet is tiny: the time goes to launching some 40
kernels a step, not to arithmetic. A CUDA graph records the whole step (forward, loss,
backward, SGD) once per batch shape and replays it with one launch. It replays the very
kernels `train_step` runs eagerly, so both paths compute the same function; a self-check
at capture compares one graphed step with one eager step from the same state, and any
failure falls back to eager steps with a message.
"""
import contextlib
from pathlib import Path

import torch
import torch.nn.functional as F

from .data import nchw
from .errors import UsageError

# CPU flags of native bfloat16 arithmetic (AMD Zen 4 and later, Intel Cooper Lake and
# Sapphire Rapids and later). Without them bf16 is emulated, over 10x slower than fp32.
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_bf16_flags(cpuinfo="/proc/cpuinfo"):
    """The native-bfloat16 flags this CPU reports (Linux's /proc/cpuinfo); none elsewhere."""
    try:
        words = set(Path(cpuinfo).read_text().split())
    except OSError:
        return []
    return [flag for flag in NATIVE_BF16_FLAGS if flag in words]


def check_precision(precision, device):
    """Refuse bf16 where it would not pay, before any training: one paragraph, what to use."""
    if precision != "bf16":
        return
    if device.type == "cpu" and not cpu_bf16_flags():
        raise UsageError(f"--precision bf16 was asked for, but this CPU has no native bfloat16 arithmetic (none of "
                         f"{', '.join(NATIVE_BF16_FLAGS)} among its flags in /proc/cpuinfo, or not Linux), so bf16 "
                         f"would be emulated: over 10x slower than fp32, not faster. Use --precision fp32 (the "
                         f"default) here, or run bf16 on a CPU that has it (AMD Zen 4 or later, Intel Xeon Cooper "
                         f"Lake or Sapphire Rapids or later) or on an NVIDIA GPU with --device cuda.")
    # From torch 2.4 is_bf16_supported() also answers True where bf16 is only emulated (a T4,
    # compute capability 7.5); the convolutions run bf16 natively from Ampere (8.0) on.
    if device.type == "cuda" and torch.cuda.get_device_capability(device) < (8, 0):
        major, minor = torch.cuda.get_device_capability(device)
        raise UsageError(f"--precision bf16 was asked for, but this GPU ({torch.cuda.get_device_name(device)}, "
                         f"compute capability {major}.{minor}) has no native bfloat16 arithmetic: NVIDIA Ampere "
                         f"(compute capability 8.0) or later has it, and below that bf16 is emulated, slower than "
                         f"fp32. Use --precision fp32 (the default) here.")
    if device.type == "mps":
        raise UsageError("--precision bf16 is not offered on Apple GPUs (--device mps); use --precision fp32 "
                         "(the default).")


def autocast(precision, device):
    """The forward pass's precision: bf16 autocast, or nothing. In fp32 no autocast is built at
    all: before torch 2.5 "mps" is no autocast device, refused even with enabled=False. No cast
    cache: each weight is used once a step, and a CUDA graph must not capture a cache that
    outlives it."""
    if precision != "bf16":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16, cache_enabled=False)


def train_step(model, optimizer, x_nhwc, y, label_smoothing=0.0, set_to_none=True, precision="fp32"):
    """Forward, loss, backward and SGD update on one batch; returns the batch's summed loss
    and its number of right answers, as device tensors (no host sync). Under bf16 the forward
    pass and the loss are autocast; the weights, their gradients and the optimizer's state
    stay fp32 (autocast casts copies), so no loss scaling is needed (bf16 has fp32's range)."""
    with autocast(precision, x_nhwc.device):
        logits = model(nchw(x_nhwc))
        loss = F.cross_entropy(logits, y, label_smoothing=label_smoothing)
    optimizer.zero_grad(set_to_none=set_to_none)
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        return loss.detach().float() * len(y), (logits.argmax(1) == y).sum()


class EagerSteps:
    """The plain loop: train_step on each batch as it comes."""

    def __init__(self, model, optimizer, cfg):
        self.model, self.optimizer, self.cfg = model, optimizer, cfg

    def __call__(self, x, y):
        return train_step(self.model, self.optimizer, x, y, self.cfg.label_smoothing, precision=self.cfg.precision)


class GraphedSteps(EagerSteps):
    """train_step captured as a CUDA graph, one per batch shape, replayed on static tensors.

    Capture needs a few warm-up steps; they run from a snapshot of the weights, batch-norm
    statistics and momentum buffers that is copied back in place afterwards, so training
    starts from exactly the state it would have started from eagerly.
    """

    def __init__(self, model, optimizer, cfg, log=print):
        super().__init__(model, optimizer, cfg)
        self.graphs, self.log, self.eager = {}, log, None

    def _state(self):
        tensors = list(self.model.state_dict().values())
        buffers = [self.optimizer.state[p].get("momentum_buffer") for g in self.optimizer.param_groups
                   for p in g["params"]]
        return tensors, buffers

    def _snapshot(self):
        tensors, buffers = self._state()
        return [t.clone() for t in tensors], [None if b is None else b.clone() for b in buffers]

    def _restore(self, snapshot):
        tensors, buffers = self._state()
        saved_tensors, saved_buffers = snapshot
        with torch.no_grad():
            for t, s in zip(tensors, saved_tensors):
                t.copy_(s)
            for b, s in zip(buffers, saved_buffers):
                if b is not None:
                    # A buffer the warm-up created: zero is the fresh state, since SGD's first
                    # step (buf = grad) and buf = 0 * momentum + grad are the same.
                    b.copy_(s) if s is not None else b.zero_()

    def _capture(self, x, y, snapshot):
        """Warm up, record train_step on static copies of (x, y) as a graph, and check it."""
        static_x, static_y = x.clone(), y.clone()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                train_step(self.model, self.optimizer, static_x, static_y, self.cfg.label_smoothing,
                           set_to_none=False, precision=self.cfg.precision)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            # Under bf16 the autocast runs inside the capture (checked on a GPU only: the CPU
            # tests cannot capture a graph).
            outputs = train_step(self.model, self.optimizer, static_x, static_y, self.cfg.label_smoothing,
                                 set_to_none=False, precision=self.cfg.precision)
        if not self._replay_agrees(graph.replay, outputs, static_x, static_y, snapshot):
            raise RuntimeError("a replayed step disagreed with an eager one")
        self._restore(snapshot)
        return graph, static_x, static_y, outputs

    def _replay_agrees(self, replay, outputs, x, y, snapshot, rng=(torch.cuda.get_rng_state,
                                                                   torch.cuda.set_rng_state)):
        """Self-check: one replay and one eager step from the same state give the same loss and
        weights. A replay advances the device generator's offset, so the eager step starts from
        the generator state the replay started from, or dropout would draw other masks for it."""
        get_rng_state, set_rng_state = rng
        rng_before = get_rng_state()
        self._restore(snapshot)
        replay()
        graphed = [outputs[0].clone()] + [t.clone() for t in self._state()[0]]
        set_rng_state(rng_before)
        self._restore(snapshot)
        eager = train_step(self.model, self.optimizer, x, y, self.cfg.label_smoothing, set_to_none=False,
                           precision=self.cfg.precision)
        return torch.allclose(graphed[0], eager[0], rtol=1e-3, atol=1e-4) and all(
            torch.allclose(a.float(), b.float(), rtol=1e-3, atol=1e-5) for a, b in zip(graphed[1:], self._state()[0]))

    def __call__(self, x, y):
        if self.eager:
            return self.eager(x, y)
        key = tuple(x.shape)
        if key not in self.graphs:
            snapshot = self._snapshot()
            try:
                self.graphs[key] = self._capture(x, y, snapshot)
            except Exception as err:  # capture is impossible here: go on eagerly, and say so
                # The warm-up may have stepped the weights before the capture failed: back to
                # the state the eager steps would have started from.
                self._restore(snapshot)
                self.log(f"CUDA graph capture failed ({type(err).__name__}: {str(err).splitlines()[0][:200]}); "
                         f"the weights and momentum are restored to their state before the capture, and "
                         f"training goes on with eager steps, which give the same numbers more slowly.")
                self.eager = EagerSteps(self.model, self.optimizer, self.cfg)
                return self.eager(x, y)
        graph, static_x, static_y, outputs = self.graphs[key]
        static_x.copy_(x)
        static_y.copy_(y)
        graph.replay()
        return outputs[0].clone(), outputs[1].clone()


def make_steps(model, optimizer, scheduler, cfg, device, log=print):
    """CUDA graphs where they serve, eager steps elsewhere (the CPU, Apple GPUs)."""
    if device.type != "cuda":
        return EagerSteps(model, optimizer, cfg)
    if scheduler is not None:
        log(f"eager steps on the GPU: the {cfg.schedule} schedule changes the learning rate every step, "
            f"which a captured CUDA graph would keep fixed")
        return EagerSteps(model, optimizer, cfg)
    return GraphedSteps(model, optimizer, cfg, log)
