"""The training step captured as a CUDA graph and replayed: only on an NVIDIA GPU.

On a GPU a batch of 32 through this ConvNet is tiny: the time goes to launching some 40
kernels a step, not to arithmetic. A CUDA graph records the whole step (forward, loss,
backward, SGD) once per batch shape and replays it with one launch. It replays the very
kernels the eager step runs (common.train.train_step, handed in as step), so both paths
compute the same function; a self-check at capture compares one graphed step with one eager
step from the same state, and any failure falls back to eager steps with a message.

A capture draws dropout masks of its own (three warm-up steps, the self-check's replay and
eager step); the generator is put back where it was before them, so the steps that count
draw what eager steps would: a run resumed from a checkpoint, which captures again at its
first step, and a run whose capture failed, give the uninterrupted eager run's numbers.
"""
import torch


class GraphedSteps:
    """train_step captured as a CUDA graph, one per batch shape, replayed on static tensors.

    Capture needs a few warm-up steps; they run from a snapshot of the weights, batch-norm
    statistics and momentum buffers that is copied back in place afterwards, so training
    starts from exactly the state it would have started from eagerly.
    """

    def __init__(self, model, optimizer, cfg, step, eager_step, log=print, rng=None):
        """step: the step to capture (common.train.train_step); eager_step: the same step taken
        eagerly on a batch (common.train.EagerSteps), which a failed capture falls back to; rng:
        (get_state, set_state) of the generator dropout draws from, the GPU's by default (the CPU
        tests stand in their own)."""
        self.model, self.optimizer, self.cfg, self.step = model, optimizer, cfg, step
        self.eager_step, self.graphs, self.log, self.fell_back, self._rng = eager_step, {}, log, False, rng

    @property
    def rng(self):
        return self._rng or (torch.cuda.get_rng_state, torch.cuda.set_rng_state)

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
                self.step(self.model, self.optimizer, static_x, static_y, self.cfg.label_smoothing,
                           set_to_none=False, precision=self.cfg.precision)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            # Under bf16 the autocast runs inside the capture (checked on a GPU only: the CPU
            # tests cannot capture a graph).
            outputs = self.step(self.model, self.optimizer, static_x, static_y, self.cfg.label_smoothing,
                                 set_to_none=False, precision=self.cfg.precision)
        if not self._replay_agrees(graph.replay, outputs, static_x, static_y, snapshot):
            raise RuntimeError("a replayed step disagreed with an eager one")
        self._restore(snapshot)
        return graph, static_x, static_y, outputs

    def _replay_agrees(self, replay, outputs, x, y, snapshot):
        """Self-check: one replay and one eager step from the same state give the same loss and
        weights. A replay advances the device generator's offset, so the eager step starts from
        the generator state the replay started from, or dropout would draw other masks for it."""
        get_rng_state, set_rng_state = self.rng
        rng_before = get_rng_state()
        self._restore(snapshot)
        replay()
        graphed = [outputs[0].clone()] + [t.clone() for t in self._state()[0]]
        set_rng_state(rng_before)
        self._restore(snapshot)
        eager = self.step(self.model, self.optimizer, x, y, self.cfg.label_smoothing, set_to_none=False,
                           precision=self.cfg.precision)
        return torch.allclose(graphed[0], eager[0], rtol=1e-3, atol=1e-4) and all(
            torch.allclose(a.float(), b.float(), rtol=1e-3, atol=1e-5)
            for a, b in zip(graphed[1:], self._state()[0])
        )

    def __call__(self, x, y):
        if self.fell_back:
            return self.eager_step(x, y)
        key = tuple(x.shape)
        if key not in self.graphs:
            snapshot, (get_rng_state, set_rng_state) = self._snapshot(), self.rng
            rng_before = get_rng_state()
            try:
                self.graphs[key] = self._capture(x, y, snapshot)
            except Exception as err:  # capture is impossible here: go on eagerly, and say so
                # The warm-up may have stepped the weights and drawn masks before the capture
                # failed: back to the state the eager steps would have started from.
                self._restore(snapshot)
                set_rng_state(rng_before)
                self.log(
                    f"CUDA graph capture failed ({type(err).__name__}: {str(err).splitlines()[0][:200]}); "
                    f"the weights, momentum and random-number generator are restored to their state "
                    f"before the capture, and training goes on with eager steps: the same computation, "
                    f"drawing the same dropout masks, more slowly."
                )
                self.fell_back = True
                return self.eager_step(x, y)
            set_rng_state(rng_before)
            self.log(f"CUDA graph captured for batches of {len(y)}; its self-check agreed with an eager step")
        graph, static_x, static_y, outputs = self.graphs[key]
        static_x.copy_(x)
        static_y.copy_(y)
        graph.replay()
        return outputs[0].clone(), outputs[1].clone()
