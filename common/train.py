"""One training loop for every question: SGD on tensors that live on the device.

Speed comes from what is not done: no DataLoader, no per-image transforms, no host sync
on every step (losses are summed on the device and read back at log points only), and
channels_last memory layout where the convolution kernels prefer it (model.LAYOUTS).
"""
import contextlib
import copy
import math
import statistics
import time
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F

from .data import alternating_flips, augment_batch, batches, epoch_shifts, nchw
from .config import TrainConfig, same_config
from .errors import Diverged, Interrupted, UsageError
from .model import ConvNet, WhitenedNet, layout, patch_whitening
from .optim import Lookahead, make_optimizer
from .results import env_info
from .graphs import GraphedSteps


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
        raise UsageError(
            f"--precision bf16 was asked for, but this CPU has no native bfloat16 arithmetic (none of "
            f"{', '.join(NATIVE_BF16_FLAGS)} among its flags in /proc/cpuinfo, or not Linux), so bf16 "
            f"would be emulated: over 10x slower than fp32, not faster. Use --precision fp32 (the "
            f"default) here, or run bf16 on a CPU that has it (AMD Zen 4 or later, Intel Xeon Cooper "
            f"Lake or Sapphire Rapids or later) or on an NVIDIA GPU with --device cuda."
        )
    # From torch 2.4 is_bf16_supported() also answers True where bf16 is only emulated (a T4,
    # compute capability 7.5); the convolutions run bf16 natively from Ampere (8.0) on.
    if device.type == "cuda" and torch.cuda.get_device_capability(device) < (8, 0):
        major, minor = torch.cuda.get_device_capability(device)
        raise UsageError(
            f"--precision bf16 was asked for, but this GPU ({torch.cuda.get_device_name(device)}, "
            f"compute capability {major}.{minor}) has no native bfloat16 arithmetic: NVIDIA Ampere "
            f"(compute capability 8.0) or later has it, and below that bf16 is emulated, slower than "
            f"fp32. Use --precision fp32 (the default) here."
        )
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
        logits = model(nchw(x_nhwc).contiguous(memory_format=layout(x_nhwc.device)))
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
        return train_step(
            self.model, self.optimizer, x, y, self.cfg.label_smoothing, precision=self.cfg.precision
        )


def make_steps(model, optimizer, scheduler, cfg, device, log=print):
    """CUDA graphs where they serve, eager steps elsewhere (the CPU, Apple GPUs)."""
    if device.type != "cuda":
        return EagerSteps(model, optimizer, cfg)
    if scheduler is not None:
        log(f"eager steps on the GPU: the {cfg.schedule} schedule changes the learning rate every step, "
            f"which a captured CUDA graph would keep fixed")
        return EagerSteps(model, optimizer, cfg)
    return GraphedSteps(model, optimizer, cfg, step=train_step, eager_step=EagerSteps(model, optimizer, cfg),
                        log=log)


@torch.no_grad()
def evaluate(model, x_nhwc, y, batch_size=1000, tta_flip=False, tta_shift=False):
    """(mean cross-entropy, accuracy in percent) of the model in eval mode."""
    model.eval()
    loss, correct = torch.zeros((), device=y.device), torch.zeros((), device=y.device)
    for start in range(0, len(y), batch_size):
        logits = predict_logits(model, x_nhwc[start:start + batch_size], tta_flip, tta_shift)
        target = y[start:start + batch_size]
        loss += F.cross_entropy(logits, target, reduction="sum")
        correct += (logits.argmax(1) == target).sum()
    return loss.item() / len(y), 100.0 * correct.item() / len(y)


@torch.no_grad()
def confusion_counts(model, x_nhwc, y, batch_size=1000, tta_flip=False, tta_shift=False, n_classes=10):
    """n_classes x n_classes counts of the model's predictions in eval mode: row = true class,
    column = predicted class, so the diagonal holds the hits (figures need no weights then)."""
    model.eval()
    counts = torch.zeros(n_classes * n_classes, dtype=torch.long, device=y.device)
    for start in range(0, len(y), batch_size):
        predicted = predict_logits(model, x_nhwc[start:start + batch_size], tta_flip, tta_shift).argmax(1)
        counts += torch.bincount(
            y[start : start + batch_size] * n_classes + predicted, minlength=n_classes**2
        )
    return counts.view(n_classes, n_classes).cpu()


@torch.no_grad()
def predict_logits(model, x_nhwc, tta_flip=False, tta_shift=False):
    """Logits, averaged over the test-time views: the image; under tta_shift, the image
    moved one pixel down-right and one pixel up-left (reflect-padded); under tta_flip, the
    mirrors of all of them."""
    views = [nchw(x_nhwc)]
    if tta_shift:
        padded = F.pad(views[0], (1, 1, 1, 1), mode="reflect")
        views += [padded[:, :, :-2, :-2], padded[:, :, 2:, 2:]]
    if tta_flip:
        views += [view.flip(3) for view in views]
    memory_format = layout(x_nhwc.device)
    return sum(model(view.contiguous(memory_format=memory_format)) for view in views) / len(views)


def build_model(cfg, device, train_x=None):
    """cfg's model, seeded; the whitened net's first layer is fitted to train_x's first
    5,000 images (NHWC, normalized), as airbench fits it to the training data."""
    torch.manual_seed(cfg.seed)
    if cfg.net == "whitened":
        model = WhitenedNet(tuple(cfg.widths), learn_first=not cfg.whiten, activation=cfg.activation)
        if cfg.whiten:
            with torch.no_grad():
                model.whiten.weight.copy_(patch_whitening(nchw(train_x[:5000]).cpu().float()))
    else:
        model = ConvNet(cfg.dropout, cfg.activation, tuple(cfg.widths), cfg.batch_norm,
                        dropout_after=cfg.dropout_after)
    return model.to(device=device, memory_format=layout(device))


def format_time(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 3600}h{seconds // 60 % 60:02d}m" if seconds >= 3600 else \
        f"{seconds // 60}m{seconds % 60:02d}s"


class Progress:
    """The report's 200-step log, and the progress lines a person watches: step, loss,
    accuracy, images per second and time left, from a smoothed recent rate (robust to a
    machine that was busy earlier on)."""

    def __init__(self, cfg, steps_per_epoch, images_left, steps, log):
        self.cfg, self.steps_per_epoch, self.images_left = cfg, steps_per_epoch, images_left
        self.steps, self.log, self.rate = steps, log, None

    def start_epoch(self, epoch):
        self.epoch, self.last = epoch, time.perf_counter()

    def __call__(self, step, images, loss, acc):
        now = time.perf_counter()
        interval_rate = images / (now - self.last)
        self.rate = interval_rate if self.rate is None else 0.7 * self.rate + 0.3 * interval_rate
        self.last = now
        left = max(0, self.images_left - step * self.cfg.batch_size)
        self.steps.append({"epoch": self.epoch, "step": (self.epoch - 1) * self.steps_per_epoch + step,
                           "loss": loss, "acc": acc})
        self.log(
            f"epoch {self.epoch:2d}/{self.cfg.epochs} step {step:4d}/{self.steps_per_epoch} "
            f"loss {loss:.3f} acc {acc:5.1f}% {interval_rate:6.0f} img/s  left "
            f"{format_time(left / self.rate)}"
        )

    def end_epoch(self, n_train):
        self.images_left -= n_train


def train_epoch(sgd_step, model, scheduler, data, cfg, shuffle, report_steps, flips=None, lookahead=None,
                steps_before=0):
    """One pass over the training tensors with sgd_step (make_steps: eager, or common.graphs' replay);
    returns (mean loss, accuracy in percent). flips: which training images to mirror (a
    bool per image) instead of random flips; lookahead: called after every step with the
    run's step count (steps_before + this epoch's).

    Losses and hits are summed on the device; they are read back (a host sync) only every
    cfg.log_every steps, when report_steps(step, images, loss, acc) is called with the
    running means since the previous call, as the report's 200-step log does.
    """
    model.train()
    zero = torch.zeros((), device=data.train_y.device)
    epoch_loss, epoch_correct = zero.clone(), zero.clone()
    log_loss, log_correct, log_seen = zero.clone(), zero.clone(), 0
    order = batches(len(data.train_y), cfg.batch_size, shuffle, data.train_y.device)
    if cfg.augment:
        shifts = epoch_shifts(
            [len(idx) for idx in order], shuffle, cfg.crop_pad, flips is None, data.train_y.device
        )
    for step, idx in enumerate(order, start=1):
        x = data.train_x[idx]
        if cfg.augment:
            dy, dx, random_flip = shifts[step - 1]
            x = augment_batch(x, dy, dx, random_flip if flips is None else flips[idx], cfg.crop_pad)
        y = data.train_y[idx]
        batch_loss, batch_correct = sgd_step(x, y)
        if scheduler:
            scheduler.step()
        if lookahead:
            lookahead.after_step(steps_before + step)
        epoch_loss += batch_loss
        epoch_correct += batch_correct
        log_loss += batch_loss
        log_correct += batch_correct
        log_seen += len(y)
        if step % cfg.log_every == 0:
            loss = log_loss.item() / log_seen
            if not math.isfinite(loss):  # checked where the loss is read anyway: no extra sync
                raise Diverged(first_step=step - cfg.log_every + 1, last_step=step)
            report_steps(step, log_seen, loss, 100.0 * log_correct.item() / log_seen)
            log_loss.zero_(), log_correct.zero_()
            log_seen = 0
    n = len(data.train_y)
    loss = epoch_loss.item() / n
    if not math.isfinite(loss):
        raise Diverged(first_step=step - step % cfg.log_every + 1, last_step=step)
    return loss, 100.0 * epoch_correct.item() / n


class Start(NamedTuple):
    """What a run starts from: the seeded model and everything that draws or schedules."""
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: object
    lookahead: object
    flips: object  # epoch -> which images to mirror, or None
    shuffle: torch.Generator  # the batch order's
    steps_per_epoch: int


def start(cfg, data, device):
    """cfg's run at its first step (train and replay begin alike): checked, seeded, built."""
    cfg.check()
    check_precision(cfg.precision, device)
    n_train = len(data.train_y)
    steps_per_epoch = math.ceil(n_train / cfg.batch_size)
    model = build_model(cfg, device, data.train_x)
    optimizer, scheduler = make_optimizer(model, cfg, cfg.epochs * steps_per_epoch)
    lookahead = Lookahead(model, cfg.epochs * steps_per_epoch) if cfg.lookahead else None
    flips = alternating_flips(n_train, cfg.seed, device) if cfg.alternate_flip else lambda epoch: None
    return Start(model, optimizer, scheduler, lookahead, flips, torch.Generator().manual_seed(cfg.seed),
                 steps_per_epoch)


class _Enough(Exception):
    """Raised by replay's log once it has the points it wants."""


def replay(cfg, data, device, points, log=print):
    """The first `points` entries of the run's 200-step log (cfg.log_every), trained again from the
    start exactly as train does: [{"epoch", "step", "loss", "acc"}]."""
    run = start(cfg, data, device)
    sgd_step = make_steps(run.model, run.optimizer, run.scheduler, cfg, device, log=lambda *_: None)
    logged = []
    progress = Progress(cfg, run.steps_per_epoch, points * cfg.log_every * cfg.batch_size, logged, log)

    def report(step, images, loss, acc):
        progress(step, images, loss, acc)
        if len(logged) == points:
            raise _Enough
    try:
        for epoch in range(1, cfg.epochs + 1):
            progress.start_epoch(epoch)
            train_epoch(sgd_step, run.model, run.scheduler, data, cfg=cfg, shuffle=run.shuffle,
                        report_steps=report, flips=run.flips(epoch), lookahead=run.lookahead,
                        steps_before=(epoch - 1) * run.steps_per_epoch)
            progress.end_epoch(len(data.train_y))
    except _Enough:
        pass
    return logged


def train(cfg, data, device, checkpoints=None, resume=False, log=print):
    """Train cfg's model on data (a DeviceData), as the report's 1.3.1 does: every epoch a
    pass over the training images, then the validation accuracy, keeping the best weights.

    Returns (the SPEC's result keys, the final model, the best-validation model). With
    checkpoints, the whole state is saved after every epoch, so resume continues from the
    last finished one and ends with the numbers an uninterrupted run would have given.
    """
    n_train = len(data.train_y)
    model, optimizer, scheduler, lookahead, flips, shuffle, steps_per_epoch = start(cfg, data, device)
    history = {
        key: [] for key in ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds")
    }
    steps, best, done = [], {"acc": -1.0, "epoch": 0, "state": None}, 0
    restored = (
        checkpoints.resume(cfg, model, optimizer, scheduler, shuffle, lookahead)
        if resume and checkpoints
        else None
    )
    if restored:
        done, history, steps, best = restored
        log(f"resuming {checkpoints.name} after epoch {done} from {checkpoints.path('last')}")
    elif resume and checkpoints:
        log(
            f"--resume: no checkpoint {checkpoints.path('last')} yet, starting {checkpoints.name} from "
            "epoch 1"
        )

    progress = Progress(cfg, steps_per_epoch, (cfg.epochs - done) * n_train, steps, log)
    sgd_step = make_steps(model, optimizer, scheduler, cfg, device, log)
    try:
        for epoch in range(done + 1, cfg.epochs + 1):
            started = time.perf_counter()
            progress.start_epoch(epoch)
            train_loss, train_acc = train_epoch(
                sgd_step, model, scheduler, data, cfg=cfg, shuffle=shuffle, report_steps=progress,
                flips=flips(epoch), lookahead=lookahead, steps_before=(epoch - 1) * steps_per_epoch)
            progress.end_epoch(n_train)
            val_loss, val_acc = evaluate(model, data.val_x, data.val_y, tta_flip=cfg.tta_flip)
            best = record_epoch(history, best, model, log, cfg, n_train, epoch=epoch, train_loss=train_loss,
                                train_acc=train_acc, val_loss=val_loss, val_acc=val_acc,
                                lr=optimizer.param_groups[0]["lr"], seconds=time.perf_counter() - started)
            if checkpoints:
                checkpoints.save_epoch(cfg, epoch, model, optimizer, scheduler, shuffle, history, steps, best,
                                       lookahead)
    except KeyboardInterrupt:
        raise Interrupted(interrupt_message(checkpoints, history["epoch"])) from None
    except Diverged as stop:
        message = divergence_message(cfg, epoch, stop.first_step, stop.last_step, steps_per_epoch,
                                     checkpoints, history["epoch"])
        raise Diverged(message, epoch=epoch, first_step=stop.first_step, last_step=stop.last_step) from None

    best_model = copy.deepcopy(model)
    best_model.load_state_dict(best["state"])
    if checkpoints:
        checkpoints.save_final(cfg, model, best)
    result = {
        "history": history,
        "steps": steps,
        "best_val_acc": best["acc"],
        "best_val_epoch": best["epoch"],
        "final_val_acc": history["val_acc"][-1],
        # The median: robust to epochs slowed by other work on the machine.
        "epoch_seconds": statistics.median(history["seconds"]),
        "train_seconds": sum(history["seconds"]),
    }
    best_is_final = best["epoch"] == history["epoch"][-1]
    return {**result, **final_scores(model, best_model, best_is_final, data, cfg)}, model, best_model


def train_or_reuse(cfg, data, device, *, checkpoints, resume, earlier, label, announce=None, log=print):
    """(result, final model): under resume, earlier (a record's run) as it is, with no model,
    when it trained cfg's settings for all their epochs; else cfg trained on data, after the
    line announce (if given), its result with the machine it ran on. label names the run."""
    if resume and finished_run(earlier, cfg):
        log(f"{label}: reusing the finished run (--resume); redrawing its figures")
        return earlier, None
    if announce:
        log(announce)
    result, model, _ = train(cfg, data, device, checkpoints=checkpoints, resume=resume, log=log)
    return {**result, "env": env_info(device)}, model


def finished_run(earlier, cfg):
    """Whether earlier is a result of cfg's settings that ran all its epochs (--resume reuses it)."""
    if not isinstance(earlier, dict) or not same_config(earlier.get("train_config"), cfg):
        return False
    history = earlier.get("history")
    return isinstance(history, dict) and len(history.get("epoch", [])) == cfg.epochs


def record_epoch(history, best, model, log, cfg, n_train, **epoch):
    """Append an epoch to the history, keep the weights if it is the best validation
    accuracy so far, print its line; returns the best."""
    for key, value in epoch.items():
        history[key].append(value)
    if epoch["val_acc"] > best["acc"]:
        best = {"acc": epoch["val_acc"], "epoch": epoch["epoch"],
                "state": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}}
    log(f"epoch {epoch['epoch']:2d}/{cfg.epochs} done: train loss {epoch['train_loss']:.3f} acc "
        f"{epoch['train_acc']:.1f}% | val loss {epoch['val_loss']:.3f} acc {epoch['val_acc']:.2f}% (best "
        f"{best['acc']:.2f}% at epoch {best['epoch']}) | {epoch['seconds']:.0f} s, "
        f"{n_train / epoch['seconds']:.0f} img/s")
    return best


def interrupt_message(checkpoints, finished):
    if not finished:
        return (
            "interrupted in the first epoch: no epoch was finished, so none was saved; rerun to start again."
        )
    if not checkpoints:
        return f"interrupted after epoch {finished[-1]}; no checkpoints were kept, so the run cannot go on."
    return (f"interrupted: epoch {finished[-1]} is the last one saved, in {checkpoints.path('last')}; "
            f"rerun the same command with --resume to go on from there.")


def divergence_message(cfg, epoch, first_step, last_step, steps_per_epoch, checkpoints, finished):
    """One paragraph: where the loss stopped being a number, the settings that likely did
    it, what to try, and what was kept."""
    baseline = TrainConfig()
    suspects = [f"--lr {cfg.lr:g}" + (f" ({cfg.lr / baseline.lr:g} times the report's {baseline.lr:g})"
                                      if cfg.lr > baseline.lr else "")]
    if cfg.momentum >= 0.95:
        suspects.append(f"--momentum {cfg.momentum:g}")
    if cfg.optimizer == "muon":
        suspects.append(f"--filter-lr {cfg.filter_lr:g}")
    where = f"step {last_step}" if first_step >= last_step else f"steps {first_step} to {last_step}"
    kept = (f"The last finished epoch ({finished[-1]}) is kept in {checkpoints.path('last')}."
            if finished and checkpoints else "No epoch had finished, so no checkpoint was written.")
    return (
        f"Training diverged: the loss stopped being a finite number in epoch {epoch}, within {where} "
        f"(of {steps_per_epoch} in an epoch), so the run was stopped and no results were written. The likely "
        f"cause is too large a step: {', '.join(suspects)}. Try a smaller --lr (a tenth, say)"
        f"{', or a lower --momentum' if cfg.momentum >= 0.95 else ''}. {kept}"
    )


def final_scores(model, best_model, best_is_final, data, cfg):
    """The test accuracy of the final and the best-validation weights, with the run's
    test-time views; for the 1.3.7 ablation, also what those views add."""
    views = {"tta_flip": cfg.tta_flip, "tta_shift": cfg.tta_shift}
    confusion = confusion_counts(model, data.test_x, data.test_y, **views)
    final = 100.0 * confusion.trace().item() / len(data.test_y)
    scores = {
        "final_test_acc": final,  # the best weights are often the final ones: one pass then
        "test_confusion": confusion.tolist(),
        "best_model_test_acc": final
        if best_is_final
        else evaluate(best_model, data.test_x, data.test_y, **views)[1],
    }
    if cfg.tta_shift:  # the final model's validation accuracy with every test-time view
        scores["final_val_acc_all_views"] = evaluate(model, data.val_x, data.val_y, **views)[1]
        scores["final_test_acc_flip_only"] = evaluate(model, data.test_x, data.test_y, tta_flip=cfg.tta_flip)[
            1
        ]
    if cfg.tta_flip or cfg.tta_shift:
        scores["final_test_acc_without_tta"] = evaluate(model, data.test_x, data.test_y)[1]
    return scores
