"""Training speed of this package against the pipeline students write, on one machine.

    python -m common.bench --device cpu
    python -m common.bench --device cpu --data-dir data --skip-checksum --repeats 3
    python -m common.bench --device cpu --recipes     # each recipe's whole training time against the baseline's

The naive pipeline is the one of the PyTorch CIFAR-10 tutorial and of the report:
torchvision's CIFAR10 with ToTensor + Normalize transforms per image, a shuffling
DataLoader (batch 32, 2 workers), the same ConvNet in the default memory layout, SGD.
The package's pipeline is common.train.train itself on tensors already on the device.
Both train the same number of images; the first pass of each is a warm-up.
"""
import argparse
import json
import math
import statistics
import time
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Subset
from torchvision import transforms

from . import cli
from .config import BASELINE, BEST, BN_ONECYCLE, STUDENT, TrainConfig
from .data import GIVEN_MEAN, GIVEN_STD, UncheckedCIFAR10, load_cifar10, to_device
from .files import write_text
from .model import ConvNet
from .results import env_info
from .train import evaluate, train


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


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
    device_data.test_x, device_data.test_y = device_data.test_x[:32], device_data.test_y[:32]  # testing is not timed
    keep_val_x, keep_val_y = device_data.val_x, device_data.val_y
    device_data.val_x, device_data.val_y = keep_val_x[:32], keep_val_y[:32]  # timed below, on its own
    result, model, _ = train(replace(cfg, epochs=2, log_every=10 ** 9), device_data, device, log=lambda *_: None)
    train_rate = n_images / result["history"]["seconds"][-1]
    if not n_val:
        return train_rate, None
    for _ in range(2):  # warm-up, then the timed pass
        sync(device)
        started = time.perf_counter()
        evaluate(model, keep_val_x, keep_val_y, tta_flip=cfg.tta_flip)
        sync(device)
    return train_rate, n_val / (time.perf_counter() - started)


RECIPES_TIMED = {"baseline": BASELINE, "student": STUDENT, "bn_onecycle": BN_ONECYCLE, "best": BEST}
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
    rates = {name: [] for name in RECIPES_TIMED}
    totals = {name: [] for name in RECIPES_TIMED}
    for repeat in range(1, repeats + 1):
        for name, recipe in RECIPES_TIMED.items():
            cfg = TrainConfig(**recipe)
            n = math.ceil(n_images / cfg.batch_size) * cfg.batch_size
            train_rate, val_rate = _timed_run(data, n, device, cfg, n_val=2000)
            rates[name].append(train_rate)
            totals[name].append(training_seconds(cfg, train_rate, val_rate))
        ratio, ok = within_budget(totals["best"][-1], totals["baseline"][-1])
        print(f"run {repeat}: " + " | ".join(f"{name} {rates[name][-1]:5.0f} img/s, {totals[name][-1] / 60:5.1f} min "
                                             f"for {TrainConfig(**RECIPES_TIMED[name]).epochs} epochs"
                                             for name in RECIPES_TIMED)
              + f" | best / baseline {ratio:.2f} ({'within' if ok else 'OVER'} the {BUDGET}x budget)")
    ratios = [best / base for best, base in zip(totals["best"], totals["baseline"])]
    median = statistics.median(ratios)
    print(f"median whole-training-time ratio best / baseline of {repeats}: {median:.2f} "
          f"({'within' if median <= BUDGET else 'OVER'} the {BUDGET}x budget)")
    return {"images_per_second": rates, "training_seconds": totals,
            "training_time_ratios": ratios, "median_training_time_ratio": median, "budget": BUDGET}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=cli.HelpFormatter)
    cli.add_data_flags(parser)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--images", type=cli.positive_int, default=6400, help="images per timed pass")
    parser.add_argument("--batch-size", type=cli.positive_int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers of the naive pipeline")
    parser.add_argument("--repeats", type=cli.positive_int, default=3)
    parser.add_argument("--out", default="figures", help="where the JSON of the numbers goes ('' for nowhere)")
    parser.add_argument("--recipes", action="store_true",
                        help="instead: each recipe's whole training time (epochs x a timed epoch and validation pass) "
                             "against the baseline's, and whether the best recipe's is within 1.5x")
    args = parser.parse_args()
    device = cli.pick_device(args.device)
    data = load_cifar10(args.data_dir, offline=args.offline, skip_checksum=args.skip_checksum)
    if args.recipes:
        print(f"device {env_info(device)['device']}, {args.images} images a timed epoch")
        save(args, device, "bench_recipes", compare_recipes(data, args.images, device, args.repeats))
        return args.out or None
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
        print(f"run {repeat}: naive {naive:8.0f} img/s | package {ours:8.0f} img/s | ratio {ours / naive:.2f}")
    print(f"median ratio of {args.repeats}: {statistics.median(ratios):.2f}")
    save(args, device, "bench", {"naive_images_per_second": naives, "package_images_per_second": packages,
                                 "ratios": ratios, "median_ratio": statistics.median(ratios)})
    return args.out or None


def save(args, device, kind, results):
    """<out>/<kind>_<device type>.json, which REPORT.md shows."""
    if not args.out:
        return
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # One file per device and CPU kernel family, so an AVX2 measurement keeps the AVX-512 one.
    kernels = f"_{torch.backends.cpu.get_cpu_capability().lower()}" if device.type == "cpu" else ""
    path = out / f"{kind}_{device.type}{kernels}.json"
    write_text(path, json.dumps({"config": vars(args), "env": env_info(device), **results}, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    cli.run(main)
