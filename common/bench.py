"""Training speed of this package against the pipeline students write, on one machine.

    python -m common.bench --device cpu
    python -m common.bench --device cpu --data-dir data --skip-checksum --repeats 3
    python -m common.bench --device cpu --recipes     # each recipe's whole training time against the baseline
    python -m common.bench --device cpu --what precision   # only fp32 against bf16

By default it measures the pipelines, then fp32 against bf16 training for the report's net and
the best recipe's (where bf16 is native: a CPU with avx512_bf16 or amx_bf16, or a GPU; elsewhere
it says it skipped them, and why).

The naive pipeline is the one of the PyTorch CIFAR-10 tutorial and of the report:
torchvision's CIFAR10 with ToTensor + Normalize transforms per image, a shuffling
DataLoader (batch 32, 2 workers), the same ConvNet in the default memory layout, SGD.
The package's pipeline is common.train.train itself on tensors already on the device.
Both train the same number of images; the first pass of each is a warm-up.
"""
import argparse

from . import cli
from .reporting.page import refresh_reports


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=cli.HelpFormatter)
    cli.add_data_flags(parser)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--images", type=cli.positive_int, default=6400, help="images per timed pass")
    parser.add_argument("--batch-size", type=cli.positive_int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers of the naive pipeline")
    parser.add_argument("--repeats", type=cli.positive_int, default=3)
    parser.add_argument(
        "--out", default="figures", help="where the JSON of the numbers goes ('' for nowhere)"
    )
    parser.add_argument(
        "--what",
        nargs="+",
        choices=["pipeline", "precision"],
        default=["pipeline", "precision"],
        help="pipeline: the naive pipeline against this package's; precision: fp32 against bf16",
    )
    parser.add_argument(
        "--recipes",
        action="store_true",
        help="instead: each recipe's whole training time (epochs x a timed epoch and validation pass) "
        "against the baseline's, and whether the best recipe's is within 1.5x",
    )
    args = parser.parse_args()
    # Heavy imports after parsing: --help answers at once.
    import torch

    from .data import load_cifar10
    from .results import env_info
    from .speed import compare_pipelines, compare_precisions, compare_recipes, save
    device = cli.pick_device(args.device)
    data = load_cifar10(args.data_dir, offline=args.offline, skip_checksum=args.skip_checksum)
    if args.recipes:
        print(f"device {env_info(device)['device']}, {args.images} images a timed epoch")
        save(args, device, "bench_recipes", compare_recipes(data, args.images, device, args.repeats))
        return args.out or None
    if "pipeline" in args.what:
        compare_pipelines(args, data, device)
    if "precision" in args.what:
        print(f"device {env_info(device)['device']}, torch {torch.__version__}: fp32 against bf16 training, "
              f"{args.images} images a timed epoch")
        save(args, device, "bench_precision", compare_precisions(data, args.images, device, args.repeats))
    return args.out or None


if __name__ == "__main__":
    cli.run(main, then=refresh_reports)
