"""Every script's command line, its device, and how a mistake ends: one paragraph, exit 2."""
import argparse
import math
import os
import sys
from dataclasses import fields
from pathlib import Path

from .config import (
    QUICK_TEST,
    QUICK_TRAIN,
    QUICK_VAL,
    TrainConfig,
    as_words,
    default_data_dir,
    differences,
    plain,
)
from .errors import DataError, Diverged, Interrupted, OutputError, UsageError
from .results import read_record


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Keeps the scripts' docstrings as written, and shows defaults except None ("the recipe's")."""

    def _get_help_string(self, action):
        return action.help if action.default is None else super()._get_help_string(action)


def _type(cast, ok, wanted):
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


positive_int = _type(int, lambda v: v >= 1, "a whole number of 1 or more")
positive_float = _type(float, lambda v: v > 0 and math.isfinite(v), "a positive number")
# A probability p with 0 <= p < 1 (dropout, momentum).
unit_interval = _type(float, lambda v: 0 <= v < 1, "a number at least 0 and below 1")
# Flag types by field; a field not named here takes its default's type, and check() has the
# last word on every value.
TRAIN_FIELDS = {f.name: f for f in fields(TrainConfig)}
FLAG_TYPES = {"epochs": positive_int, "batch_size": positive_int, "lr": positive_float,
              "momentum": unit_interval, "dropout": unit_interval, "widths": positive_int,
              "lr_ends": positive_float, "bias_lr_scale": positive_float}


def add_data_flags(p, shown=True):
    """The data flags; shown=False accepts them without offering them in --help."""
    def text(words):
        return words if shown else argparse.SUPPRESS
    p.add_argument(
        "--data-dir",
        default=default_data_dir(),
        help=text("folder holding (or receiving) cifar-10-batches-py/; $CIFAR10_DIR sets the default"),
    )
    p.add_argument("--offline", action="store_true", help=text("never download; missing data is an error"))
    p.add_argument(
        "--skip-checksum",
        action="store_true",
        default=os.environ.get("CIFAR10_SKIP_CHECKSUM", "") not in ("", "0"),
        help=text("accept batch files whose MD5 differs from the published ones (a re-encoded copy); "
                  "$CIFAR10_SKIP_CHECKSUM=1 sets it for every command"),
    )


def base_parser(description, reads_data=True):
    """The flags every script takes (SPEC: command line). A script that reads no data
    (reads_data=False) still accepts the data, device, seed and split flags, so one command
    line fits every script, but does not offer them."""
    p = argparse.ArgumentParser(description=description, formatter_class=HelpFormatter)
    add_data_flags(p, shown=reads_data)
    p.add_argument(
        "--out",
        help=f"where figures and JSON go (default: {FULL_OUT}/, or {QUICK_OUT}/ under --quick, "
        f"so a smoke run never touches full results)",
    )
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"],
                   help="auto: cuda, then mps, then cpu" if reads_data else argparse.SUPPRESS)
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seeds the split, the initial weights and the batch order" if reads_data else argparse.SUPPRESS,
    )
    # The split's flags come from its TrainConfig fields (they are part of what a run trained).
    for name, kind in (("val_size", positive_int), ("val_split", None)):
        f = TRAIN_FIELDS[name]
        p.add_argument(
            "--" + name.replace("_", "-"),
            type=kind,
            default=f.default,
            choices=f.metadata["choices"],
            help=f.metadata["help"] if reads_data else argparse.SUPPRESS,
        )
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: {QUICK_TRAIN - QUICK_VAL} training, {QUICK_VAL} validation and {QUICK_TEST} "
        f"test images, a few epochs with settings that learn fast (printed, and kept in the "
        f"JSON); under a minute on 2 CPU cores; every output still written and marked quick"
        if reads_data
        else f"write to {QUICK_OUT}/, marked quick, like the other scripts' smoke runs",
    )
    return p


def add_training_flags(parser, shown=None, recipe=False, exclude=()):
    """One flag per TrainConfig field that has one (the 1.3.7 settings only where recipe
    is true), plus --resume and --checkpoint-dir.

    Every flag's default is None, meaning "the recipe's"; shown (a TrainConfig) gives the
    value --help prints, or none where the recipe decides.
    """
    group = parser.add_argument_group("training settings")
    for f in fields(TrainConfig):
        meta = f.metadata
        if not meta["flag"] or (meta["recipe_only"] and not recipe) or f.name in exclude:
            continue
        flag = "--" + f.name.replace("_", "-")
        text = meta["help"] + (
            f" (default: {plain(getattr(shown, f.name))})" if shown else " (default: the recipe's)"
        )
        if isinstance(f.default, bool):
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=text)
        elif isinstance(f.default, tuple):
            group.add_argument(flag, type=FLAG_TYPES.get(f.name, int), nargs="+", default=None,
                               metavar=meta["metavar"], help=text)
        elif meta["choices"]:
            group.add_argument(flag, choices=meta["choices"], default=None, help=text)
        else:
            group.add_argument(flag, type=FLAG_TYPES.get(f.name, type(f.default)), default=None, help=text)
    group.add_argument("--resume", action="store_true",
                       help="continue an interrupted run from its last finished epoch")
    group.add_argument("--checkpoint-dir", help="where checkpoints go (default: checkpoints/<--out>, so runs "
                                                "into different folders never share one)")


def recipe_config(recipe, quick=None):
    """A recipe's settings, with the smoke-run settings quick (a config.QUICK entry) applied."""
    cfg = TrainConfig(**recipe)
    for k, v in (quick or {}).items():
        setattr(cfg, k, v)
    return cfg


def config_from_args(args, recipe, quick, **fixed):
    """The recipe's settings, then (under --quick) the smoke-run settings quick, then what
    the command line gave, then what the script fixes (fixed); checked. Under --quick, says
    what the smoke run changed and keeps it in args.quick_settings for the JSON."""
    cfg = recipe_config(recipe, quick if args.quick else None)
    cfg.seed, cfg.val_split = args.seed, args.val_split
    # A smoke run holds out at most QUICK_VAL images (data.load_data): its record says so.
    cfg.val_size = min(args.val_size, QUICK_VAL) if args.quick else args.val_size
    for f in fields(TrainConfig):
        value = getattr(args, f.name, None) if f.metadata["flag"] else None
        if value is not None:
            setattr(cfg, f.name, tuple(value) if isinstance(f.default, tuple) else value)
    for k, v in fixed.items():
        setattr(cfg, k, v)
    cfg.check()
    if args.quick and not hasattr(args, "quick_settings"):
        full = TrainConfig(**{**recipe, **fixed, "seed": args.seed, "val_size": args.val_size,
                              "val_split": args.val_split})
        changed = differences(cfg, full)
        args.quick_settings = dict(changed)
        print(
            f"--quick: a smoke run on at most {QUICK_TRAIN - QUICK_VAL} training, {QUICK_VAL} validation and "
            f"{QUICK_TEST} test images with {', '.join(as_words(changed)) or 'the full settings'} "
            f"(the full run: {', '.join(as_words(differences(full, cfg))) or 'the same'})"
        )
    for f in fields(TrainConfig):  # the JSON's "config" then records what was trained
        if f.metadata["flag"] and hasattr(args, f.name) and f.name not in fixed:
            setattr(args, f.name, plain(getattr(cfg, f.name)))
    return cfg


FULL_OUT, QUICK_OUT = "figures", "smoke"


def default_out(quick):
    """Full results go to figures/, smoke runs to smoke/ (git-ignored): a smoke run never
    touches full results."""
    return QUICK_OUT if quick else FULL_OUT


def checkpoint_folder(out):
    """checkpoints/<out>: runs written to different folders never share a checkpoint file."""
    out = Path(out).resolve()
    try:
        parts = out.relative_to(Path.cwd().resolve()).parts
    except ValueError:
        parts = out.parts[1:]
    return Path("checkpoints", *parts)


def full_results_in(out):
    """The names of the records in out that a full run wrote."""
    return [path.name for path in sorted(Path(out).glob("q1_*.json")) if read_record(path, quick=False)]


def refuse_quick_over_full(out):
    full = full_results_in(out)
    if full:
        raise UsageError(
            f"--out {out} holds full results ({', '.join(full)}), and a smoke run (--quick) never "
            f"replaces them. Without --out, smoke runs write to {QUICK_OUT}/; pass that or another "
            f"folder. To replace the full results on purpose, move or delete those files first, "
            f"or rerun the full command."
        )


def parse(parser, argv=None):
    """Parse the command line, fill in the folders, refuse a smoke run over full results,
    and make sure --out can receive files."""
    args = parser.parse_args(argv)
    if args.out is None:
        args.out = default_out(args.quick)
    if args.quick:
        refuse_quick_over_full(args.out)
    if hasattr(args, "checkpoint_dir") and args.checkpoint_dir is None:
        args.checkpoint_dir = str(checkpoint_folder(args.out))
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        parser.error(f"--out {out} cannot hold the figures ({err.strerror}); pass a folder you can write to")
    return args


def pick_device(name):
    import torch
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda was asked for, but PyTorch sees no CUDA GPU here. Use "
                         "--device auto or --device cpu, or install a CUDA build of torch on a GPU machine.")
    if name == "mps" and not torch.backends.mps.is_available():
        raise UsageError("--device mps was asked for, but this machine has no Apple GPU that "
                         "PyTorch can use. Use --device auto or --device cpu.")
    device = torch.device(name)
    if device.type == "cuda":  # TF32 matmuls and convolutions: the GPU's fast float path
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    return device


def in_ipython():
    """Whether an IPython shell runs this script: a Jupyter or Colab kernel's %run (or IPython's)."""
    ipython = sys.modules.get("IPython")
    return ipython is not None and getattr(ipython, "get_ipython", lambda: None)() is not None


def stop(status):
    """End the script with status. Under %run a raised SystemExit would add IPython's own
    "SystemExit: 2" and a pointer to %tb under the paragraph that already said what went wrong,
    so there the script only returns: the paragraph is the whole answer in both places."""
    if not in_ipython():
        sys.exit(status)


def run(main, then=None):
    """Call a script's main(), which returns its output folder or None; then then(folder), once
    (the scripts pass the report's refresh). A user's mistake ends in one clear paragraph, not
    a traceback, from a shell and from a notebook's %run alike."""
    # Progress shows at once in a log file too; a notebook's stream (ipykernel's OutStream)
    # has no reconfigure and sends each line as it comes anyway.
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)
    try:
        out = main()
        if out is not None and then is not None:
            then(out)
    except (DataError, UsageError, OutputError, Diverged) as err:
        print(f"error: {err}", file=sys.stderr)
        stop(2)
    except Interrupted as interrupted:
        print(f"\n{interrupted}", file=sys.stderr)
        stop(130)
    except KeyboardInterrupt:
        print("\ninterrupted before any training epoch finished: nothing was saved.", file=sys.stderr)
        stop(130)
    except SystemExit as exit_:  # argparse's --help (0) and its usage errors (2), printed already
        stop(exit_.code)
