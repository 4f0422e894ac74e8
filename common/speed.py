"""What common.bench measures: the naive pipeline's and this package's training speed, and
each recipe's whole training time."""
import math
import statistics
import time
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Subset
from torchvision import transforms

from .config import BASELINE, BEST, TIMED, TrainConfig
from .data import GIVEN_MEAN, GIVEN_STD, UncheckedCIFAR10, to_device
from .files import write_json
from .model import ConvNet
from .results import env_info
from .errors import UsageError
from .train import check_precision, cpu_bf16_flags, evaluate, train


def sync(device):
    """Wait for the device's queued work, so that a timer reads the work done, not launched."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    elif device.type == "mps":
        torch.mps.synchronize()


def naive_images_per_second(root, skip_checksum, n_images, batch_size, workers, device):
    """The student's pipeline: per-image PIL -> tensor -> normalize in a DataLoader."""
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize(GIVEN_MEAN, GIVEN_STD)])
    dataset_class = UncheckedCIFAR10 if skip_checksum else UncheckedCIFAR10.__base__
    dataset = Subset(dataset_class(root, train=True, download=False, transform=tf), range(n_images))
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers)
    torch.manual_seed(0)
    model = ConvNet().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
    rates = []
    for _ in range(2):  # warm-up pass, then the timed one
        model.train()
        sync(device)
        start, seen, running_loss = time.perf_counter(), 0, 0.0
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()  # what the tutorial does each step
            seen += len(y)
        sync(device)
        rates.append(seen / (time.perf_counter() - start))
    return rates[-1]


def package_images_per_second(data, n_images, device, **recipe):
    """This package's loop (common.train.train): one warm-up epoch, one timed epoch."""
    return _timed_run(data, n_images, device, TrainConfig(**recipe))[0]


def _timed_run(data, n_images, device, cfg, n_val=0):
    """(training images per second over the second of two epochs of cfg on n_images, and
    validation images per second of the trained model on n_val images, None if n_val is 0)."""
    train_idx = torch.arange(n_images)
    val_idx = torch.arange(n_images, n_images + max(n_val, 32))
    device_data = to_device(data, train_idx, val_idx, device)
    device_data.test_x, device_data.test_y = (
        device_data.test_x[:32],
        device_data.test_y[:32],
    )  # testing is not timed
    keep_val_x, keep_val_y = device_data.val_x, device_data.val_y
    device_data.val_x, device_data.val_y = keep_val_x[:32], keep_val_y[:32]  # timed below, on its own
    result, model, _ = train(
        replace(cfg, epochs=2, log_every=10**9), device_data, device, log=lambda *_: None
    )
    train_rate = n_images / result["history"]["seconds"][-1]
    if not n_val:
        return train_rate, None
    for _ in range(2):  # warm-up, then the timed pass
        sync(device)
        started = time.perf_counter()
        evaluate(model, keep_val_x, keep_val_y, tta_flip=cfg.tta_flip)
        sync(device)
    return train_rate, n_val / (time.perf_counter() - started)


BUDGET = 1.5  # 1.3.7: the best recipe's whole training may take at most 1.5x the baseline's


def training_seconds(cfg, train_rate, val_rate, n_train=45000, n_val=5000):
    """A whole run's training time at these speeds: every epoch a pass over the training
    images and one over the validation images (the time history["seconds"] records)."""
    return cfg.epochs * (n_train / train_rate + n_val / val_rate)


def within_budget(best_seconds, baseline_seconds, budget=BUDGET):
    """(ratio of the best recipe's whole training time to the baseline's, whether it is
    within the budget)."""
    ratio = best_seconds / baseline_seconds
    return ratio, ratio <= budget


def compare_recipes(data, n_images, device, repeats):
    """1.3.7: each recipe's whole training time against the baseline's, in one process, from
    the speed of a timed epoch (training images rounded up to whole batches) and of its
    validation pass (2,000 images here, scaled to the 5,000 of a run)."""
    rates = {name: [] for name in TIMED}
    totals = {name: [] for name in TIMED}
    for repeat in range(1, repeats + 1):
        for name, recipe in TIMED.items():
            cfg = TrainConfig(**recipe)
            n = math.ceil(n_images / cfg.batch_size) * cfg.batch_size
            train_rate, val_rate = _timed_run(data, n, device, cfg, n_val=2000)
            rates[name].append(train_rate)
            totals[name].append(training_seconds(cfg, train_rate, val_rate))
        ratio, ok = within_budget(totals["best"][-1], totals["baseline"][-1])
        print(
            f"run {repeat}: "
            + " | ".join(
                f"{name} {rates[name][-1]:5.0f} img/s, {totals[name][-1] / 60:5.1f} min "
                f"for {TrainConfig(**TIMED[name]).epochs} epochs"
                for name in TIMED
            )
            + f" | best / baseline {ratio:.2f} ({'within' if ok else 'OVER'} the {BUDGET}x budget)"
        )
    ratios = [best / base for best, base in zip(totals["best"], totals["baseline"])]
    median = statistics.median(ratios)
    print(f"median whole-training-time ratio best / baseline of {repeats}: {median:.2f} "
          f"({'within' if median <= BUDGET else 'OVER'} the {BUDGET}x budget)")
    return {"images_per_second": rates, "training_seconds": totals,
            "training_time_ratios": ratios, "median_training_time_ratio": median, "budget": BUDGET}


PRECISION_NETS = {"baseline": BASELINE, "best": BEST}  # the report's net, and the best recipe's


def compare_precisions(data, n_images, device, repeats, log=print):
    """Training images per second in fp32 and in bf16 for the report's net and the best
    recipe's, each repeat timing fp32 then bf16 back to back (so a machine that slows down
    meanwhile weighs on both); {"skipped": why} where bf16 is refused here."""
    try:
        check_precision("bf16", device)
    except UsageError as refused:
        log(f"fp32 against bf16: skipped. {refused}")
        return {"skipped": str(refused)}
    rates = {name: {"fp32": [], "bf16": []} for name in PRECISION_NETS}
    for repeat in range(1, repeats + 1):
        for name, recipe in PRECISION_NETS.items():
            cfg = TrainConfig(**recipe)
            n = math.ceil(n_images / cfg.batch_size) * cfg.batch_size
            for precision in ("fp32", "bf16"):
                rates[name][precision].append(
                    _timed_run(data, n, device, replace(cfg, precision=precision))[0]
                )
        log(f"run {repeat}: " + " | ".join(
            f"{name} fp32 {r['fp32'][-1]:5.0f} img/s, bf16 {r['bf16'][-1]:5.0f} img/s, "
            f"ratio {r['bf16'][-1] / r['fp32'][-1]:.2f}" for name, r in rates.items()))
    ratios = {name: [b / f for f, b in zip(r["fp32"], r["bf16"])] for name, r in rates.items()}
    medians = {name: statistics.median(v) for name, v in ratios.items()}
    log(
        f"median bf16 / fp32 ratio of {repeats}: "
        + ", ".join(f"{name} {m:.2f}" for name, m in medians.items())
    )
    return {"cpu_bf16_flags": cpu_bf16_flags() if device.type == "cpu" else None, "images_per_second": rates,
            "ratios": ratios, "median_ratios": medians}


def save(args, device, kind, results):
    """<out>/<kind>_<device type>.json, which REPORT.md shows."""
    if not args.out:
        return
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # One file per device and CPU kernel family, so an AVX2 measurement keeps the AVX-512 one.
    kernels = f"_{torch.backends.cpu.get_cpu_capability().lower()}" if device.type == "cpu" else ""
    path = out / f"{kind}_{device.type}{kernels}.json"
    write_json(path, {"config": vars(args), "env": env_info(device), **results})
    print(f"wrote {path}")


def compare_pipelines(args, data, device):
    """The naive pipeline's images per second against this package's, each repeat both."""
    print(f"device {env_info(device)['device']}, torch {torch.__version__}, batch {args.batch_size}, "
          f"{args.images} images a pass, naive DataLoader workers {args.workers}")
    ratios, naives, packages = [], [], []
    for repeat in range(1, args.repeats + 1):
        naive = naive_images_per_second(data.root, args.skip_checksum, args.images, args.batch_size,
                                        args.workers, device)
        ours = package_images_per_second(data, args.images, device, batch_size=args.batch_size)
        ratios.append(ours / naive)
        naives.append(naive)
        packages.append(ours)
        print(
            f"run {repeat}: naive {naive:8.0f} img/s | package {ours:8.0f} img/s | ratio {ours / naive:.2f}"
        )
    print(f"median ratio of {args.repeats}: {statistics.median(ratios):.2f}")
    save(args, device, "bench", {"naive_images_per_second": naives, "package_images_per_second": packages,
                                 "ratios": ratios, "median_ratio": statistics.median(ratios)})
