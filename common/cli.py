"""What every script shares: its command line, the device, the data, the JSON it writes."""
import argparse
import json
import math
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

from .data import DataError, default_data_dir, load_cifar10, split_indices, subset_for_quick
from .plots import plot_curves
from .report import write_report
from .train import train

QUICK_TRAIN, QUICK_VAL, QUICK_TEST = 4000, 500, 1000


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Keeps the scripts' docstrings as written, and shows defaults except None ("the recipe's")."""

    def _get_help_string(self, action):
        return action.help if action.default is None else super()._get_help_string(action)


def base_parser(description):
    p = argparse.ArgumentParser(description=description, formatter_class=HelpFormatter)
    p.add_argument("--data-dir", default=default_data_dir(),
                   help="folder holding (or receiving) cifar-10-batches-py/; $CIFAR10_DIR sets the default")
    p.add_argument("--offline", action="store_true", help="never download; missing data is an error")
    p.add_argument("--skip-checksum", action="store_true",
                   help="accept batch files whose MD5 differs from the published ones (a re-encoded copy)")
    p.add_argument("--out", default="figures", help="where figures and JSON go")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--val-size", type=positive_int, default=5000, help="validation images split off the training set")
    p.add_argument("--quick", action="store_true",
                   help=f"smoke run: {QUICK_TRAIN} training and {QUICK_TEST} test images, one epoch; outputs marked quick")
    return p


def parse(parser):
    """Parse the command line and make sure --out can receive files."""
    args = parser.parse_args()
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError, PermissionError) as err:
        parser.error(f"--out {out} cannot hold the figures ({err.strerror}); pass a folder you can write to")
    return args


def _number_type(cast, ok, wanted):
    """An argparse type: cast the text, then check it, naming what was wanted."""
    def parse_number(text):
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {wanted}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {value}")
        return value
    return parse_number


positive_int = _number_type(int, lambda v: v >= 1, "a whole number of 1 or more")
positive_float = _number_type(float, lambda v: v > 0 and math.isfinite(v), "a positive number")
# A probability p with 0 <= p < 1 (dropout, momentum).
unit_interval = _number_type(float, lambda v: 0 <= v < 1, "a number at least 0 and below 1")


def add_training_args(p, cfg, dropout=True):
    """--epochs, --batch-size, --lr, --momentum (and --dropout) with cfg's values as defaults."""
    p.add_argument("--epochs", type=positive_int, default=cfg.epochs)
    p.add_argument("--batch-size", type=positive_int, default=cfg.batch_size)
    p.add_argument("--lr", type=positive_float, default=cfg.lr, help="learning rate")
    p.add_argument("--momentum", type=unit_interval, default=cfg.momentum)
    if dropout:
        p.add_argument("--dropout", type=unit_interval, default=cfg.dropout,
                       help="probability of zeroing an activation after each pooling stage")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run from its last finished epoch")
    p.add_argument("--checkpoint-dir", default="checkpoints", help="where checkpoints go")


def pick_device(name):
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DataError("--device cuda was asked for, but PyTorch sees no CUDA GPU here. Use "
                        "--device auto or --device cpu, or install a CUDA build of torch on a GPU machine.")
    if name == "mps" and not torch.backends.mps.is_available():
        raise DataError("--device mps was asked for, but this machine has no Apple GPU that "
                        "PyTorch can use. Use --device auto or --device cpu.")
    return torch.device(name)


def load_data(args):
    """The data set (a subset under --quick) and the seeded train/validation split."""
    data = load_cifar10(args.data_dir, args.offline, args.skip_checksum)
    n_val = args.val_size
    if args.quick:
        data = subset_for_quick(data, QUICK_TRAIN, QUICK_TEST, args.seed)
        n_val = min(n_val, QUICK_VAL)
    if n_val >= len(data.train_labels):
        raise DataError(f"--val-size {n_val} leaves no training images out of "
                        f"{len(data.train_labels)}; choose a smaller one.")
    train_idx, val_idx = split_indices(len(data.train_labels), n_val, args.seed)
    return data, train_idx, val_idx


def data_info(data, train_idx, val_idx):
    return {"dir": data.root, "checksum_verified": data.checksum_verified,
            "n_train": len(train_idx), "n_val": len(val_idx), "n_test": len(data.test_labels)}


def env_info(device):
    name = str(device)
    if device.type == "cuda":
        name += f" ({torch.cuda.get_device_name(device)})"
    elif device.type == "cpu":
        threads = torch.get_num_threads()
        name += f" ({platform.processor() or platform.machine()}, {threads} thread{'s' if threads != 1 else ''})"
    return {"python": platform.python_version(), "torch": torch.__version__, "device": name}


def write_json(args, script, device, info, results, figures, started, report_dir=None):
    """<out>/<script>.json with the SPEC's common keys, then rebuild REPORT.md in report_dir (default: out)."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    record = {"config": {k: v for k, v in vars(args).items()}, "data": info, "env": env_info(device),
              "quick": bool(args.quick), "seconds": round(time.perf_counter() - started, 1),
              "figures": figures, **results}
    path = out / f"{script}.json"
    path.write_text(json.dumps(record, indent=1, default=_jsonable) + "\n")
    write_report(report_dir or out)
    return path


def _jsonable(value):
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def run(main):
    """Call a script's main(); a user's mistake ends in one clear paragraph, not a traceback."""
    sys.stdout.reconfigure(line_buffering=True)  # progress shows at once in a log file too
    try:
        main()
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("\ninterrupted: finished epochs are in the checkpoint; rerun with --resume to go on.",
              file=sys.stderr)
        sys.exit(130)


def config_dict(cfg):
    """A TrainConfig as it reads back from JSON (tuples become lists), for comparisons."""
    return json.loads(json.dumps(asdict(cfg)))


def train_and_plot(args, cfg, data, device, name, title, figure_prefix):
    """Train one configuration and draw its loss and accuracy figures.

    Returns (result without the models, figure names, final model).
    """
    result = train(cfg, data, device, args.checkpoint_dir, name=name + ("_quick" if args.quick else ""),
                   resume=args.resume)
    model = result.pop("model")
    result.pop("best_model")
    figures = []
    for metric, word, suffix in (("loss", "Loss", "loss"), ("acc", "Accuracy", "accuracy")):
        figure = f"{figure_prefix}_{suffix}.png"
        plot_curves(result["history"], result["best_val_epoch"],
                    f"{title}: {word}" + (" [QUICK]" if args.quick else ""), f"{args.out}/{figure}", metric)
        figures.append(figure)
    return result, figures, model
