"""Training speed of this package against the pipeline students write, on one machine.

    python -m common.bench --device cpu
    python -m common.bench --device cpu --data-dir data --skip-checksum --repeats 3
    python -m common.bench --device cpu --recipes     # an epoch of each 1.3.7 recipe against the baseline's

The naive pipeline is the one of the PyTorch CIFAR-10 tutorial and of the report:
torchvision's CIFAR10 with ToTensor + Normalize transforms per image, a shuffling
DataLoader (batch 32, 2 workers), the same ConvNet in the default memory layout, SGD.
The package's pipeline is common.train.train itself on tensors already on the device.
Both train the same number of images; the first pass of each is a warm-up.
"""
import argparse
import json
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Subset
from torchvision import transforms

from . import cli
from .config import BEST, STUDENT, TrainConfig
from .data import GIVEN_MEAN, GIVEN_STD, UncheckedCIFAR10, load_cifar10, to_device
from .files import write_text
from .model import ConvNet
from .results import env_info
from .train import train


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
    train_idx = torch.arange(n_images)
    val_idx = torch.arange(n_images, n_images + 32)  # validation is not what is timed
    device_data = to_device(data, train_idx, val_idx, device)
    device_data.test_x, device_data.test_y = device_data.test_x[:32], device_data.test_y[:32]  # nor is testing
    cfg = TrainConfig(**{**recipe, "epochs": 2, "log_every": 10 ** 9})
    result, _, _ = train(cfg, device_data, device, log=lambda *_: None)
    return n_images / result["history"]["seconds"][-1]


def compare_recipes(data, n_images, device, repeats):
    """1.3.7: a training epoch of each recipe against the baseline's, in one process."""
    rates = {"baseline": [], "student": [], "best": []}
    recipes = {"baseline": {}, "student": STUDENT, "best": BEST}
    for repeat in range(1, repeats + 1):
        for name, recipe in recipes.items():
            rates[name].append(package_images_per_second(data, n_images, device, **recipe))
        base, best = rates["baseline"][-1], rates["best"][-1]
        print(f"run {repeat}: " + " | ".join(f"{name} {rate[-1]:6.0f} img/s ({45000 / rate[-1]:5.1f} s an epoch)"
                                             for name, rate in rates.items())
              + f" | best epoch / baseline epoch {base / best:.2f}")
    ratios = [b / x for b, x in zip(rates["baseline"], rates["best"])]
    print(f"median epoch-time ratio of {repeats}: {statistics.median(ratios):.2f}")
    return {"images_per_second": rates, "baseline_images_per_second": rates["baseline"][-1],
            "best_images_per_second": rates["best"][-1],
            "epoch_time_ratios": ratios, "median_epoch_time_ratio": statistics.median(ratios)}


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
                        help="instead: time an epoch of the 1.3.7 best recipe against the baseline's")
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
