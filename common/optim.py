"""The optimizers: SGD or Muon (orthogonalized momentum for conv filter banks) with their
parameter groups and schedule, and airbench's lookahead weight averaging."""
import torch


def orthogonalize(g, steps=5):
    """The semi-orthogonal matrix nearest g (its U V^T), roughly, by Muon's quintic
    Newton-Schulz iteration: it pushes every singular value toward 1 in a few matmuls, so
    an update moves all of a layer's directions alike, not mostly the few that dominate."""
    a, b, c = 3.4445, -4.7750, 2.0315
    x = g / (g.norm() + 1e-7)
    wide = x.shape[0] <= x.shape[1]
    x = x if wide else x.T
    for _ in range(steps):
        s = x @ x.T
        x = a * x + (b * s + c * s @ s) @ x
    return x if wide else x.T


class Muon(torch.optim.Optimizer):
    """SGD with momentum (and weight decay, and Nesterov's look-ahead), where a group marked
    orthogonal (conv filter banks) steps along its orthogonalized momentum and is rescaled
    to norm sqrt(out channels) first: batch norm makes such a bank's scale irrelevant, so
    the step is a fixed-size rotation and weight decay has nothing to do (Keller Jordan's
    Muon, as in airbench94_muon). Unmarked groups get exactly torch.optim.SGD's update."""

    def __init__(self, groups, lr, momentum, nesterov=False):
        super().__init__(groups, dict(lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=0.0,
                                      orthogonal=False))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad.add(p, alpha=group["weight_decay"]) if group["weight_decay"] else p.grad
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = g.clone()
                else:
                    state["momentum_buffer"].mul_(group["momentum"]).add_(g)
                buf = state["momentum_buffer"]
                g = g.add(buf, alpha=group["momentum"]) if group["nesterov"] else buf
                if group["orthogonal"]:
                    p.mul_(len(p) ** 0.5 / p.norm())
                    g = orthogonalize(g.reshape(len(g), -1)).view_as(p)
                p.add_(g, alpha=-group["lr"])


def make_optimizer(model, cfg, steps_total):
    # Weight decay on weights only: decaying batch-norm scales and biases only slows learning.
    # Batch-norm shifts may learn bias_lr_scale times faster (airbench): with no learned
    # scale, a shift is all a norm learns, and at the weights' rate it barely moves.
    params = [p for p in model.parameters() if p.requires_grad]
    shifts = [m.bias for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d) and m.bias.requires_grad]
    ids = {id(p) for p in shifts}
    muon = cfg.optimizer == "muon"
    filters = [p for p in params if p.ndim == 4] if muon else []
    ids |= {id(p) for p in filters}
    groups = [
        {
            "params": [p for p in params if p.ndim > 1 and id(p) not in ids],
            "weight_decay": cfg.weight_decay,
            "lr": cfg.lr,
        },
        {
            "params": [p for p in params if p.ndim <= 1 and id(p) not in ids],
            "weight_decay": 0.0,
            "lr": cfg.lr,
        },
        {"params": shifts, "weight_decay": 0.0, "lr": cfg.lr * cfg.bias_lr_scale},
        {"params": filters, "lr": cfg.filter_lr, "momentum": cfg.filter_momentum, "orthogonal": True},
    ]
    groups = [g for g in groups if g["params"]]
    if muon:
        optimizer = Muon(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov)
    else:
        optimizer = torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov)
    scheduler = None
    if cfg.schedule == "onecycle":
        first, last = cfg.lr_ends
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=[g["lr"] for g in groups],
            total_steps=steps_total,
            pct_start=cfg.warmup,
            anneal_strategy="linear",
            cycle_momentum=False,
            div_factor=1 / first,
            final_div_factor=first / last,
        )
    return optimizer, scheduler


class Lookahead:
    """airbench's weight averaging: every 5 steps an average of the weights (and batch-norm
    statistics) moves toward them and they are reset to it; the average's inertia grows
    as the cube of progress, to 0.95**5 at the end, when the weights become the average."""

    every = 5

    def __init__(self, model, total_steps):
        self.model, self.total_steps = model, total_steps
        self.average = {k: v.detach().clone() for k, v in model.state_dict().items() if v.is_floating_point()}

    def decay(self, step):
        return 0.95 ** 5 * (step / self.total_steps) ** 3

    @torch.no_grad()
    def after_step(self, step):
        """After global step `step` (counted from 1)."""
        if step % self.every and step < self.total_steps:
            return
        weights = self.model.state_dict()
        for name, average in self.average.items():
            if step % self.every == 0:
                average.lerp_(weights[name], 1 - self.decay(step))
            weights[name].copy_(average)
