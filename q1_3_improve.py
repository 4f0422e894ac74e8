"""Question 1.3.7: the student's improved model, and a far better one in the same 20 epochs.

    python q1_3_improve.py                      # --recipe best: BN, augmentation, one-cycle, ...
    python q1_3_improve.py --recipe student     # lr 0.01, momentum 0.85, dropout 0.55, GELU
    python q1_3_improve.py --no-augment --out figures/ablation/no_augment   # one ablation
"""
import json
import re
import time
from pathlib import Path

from common import cli
from common.train import RECIPES, TrainConfig, to_device

SCRIPT = "q1_3_improve"


def recipe_config(args):
    """The recipe's settings, then whatever the command line overrides."""
    cfg = TrainConfig(**RECIPES[args.recipe])
    for flag in ("epochs", "batch_size", "lr", "momentum", "dropout", "seed"):
        value = getattr(args, flag)
        if value is not None:
            setattr(cfg, flag, value)
    if args.recipe == "best":
        for flag, setting in (("no_augment", "augment"), ("no_batch_norm", "batch_norm"),
                              ("no_tta", "tta_flip"), ("no_tta", "tta_shift"), ("no_tta_shift", "tta_shift")):
            if getattr(args, flag):
                setattr(cfg, setting, False)
        if args.schedule:
            cfg.schedule = args.schedule
        if args.weight_decay is not None:
            cfg.weight_decay = args.weight_decay
        if args.label_smoothing is not None:
            cfg.label_smoothing = args.label_smoothing
        if args.widths:
            cfg.widths = tuple(args.widths)
    if args.quick:
        cfg.epochs, cfg.log_every = 1, 20
    cfg.check()
    return cfg


def changed_flags(args):
    """The settings this run changed from its recipe, as command-line flags."""
    flags = []
    for name in ("epochs", "batch_size", "lr", "momentum", "dropout", "schedule", "weight_decay",
                 "label_smoothing", "widths"):
        value = getattr(args, name)
        if value is not None:
            flags.append(f"--{name.replace('_', '-')} " + (" ".join(map(str, value)) if isinstance(value, list) else str(value)))
    flags += [f"--{name.replace('_', '-')}" for name in ("no_augment", "no_batch_norm", "no_tta", "no_tta_shift") if getattr(args, name)]
    if args.seed:  # another seed's run keeps checkpoints of its own too
        flags.append(f"--seed {args.seed}")
    return flags


def main():
    parser = cli.base_parser(__doc__)
    parser.add_argument("--recipe", choices=sorted(RECIPES), default="best")
    # Defaults come from the recipe, so they are None here.
    cli.add_training_args(parser, TrainConfig(epochs=None, batch_size=None, lr=None, momentum=None, dropout=None))
    parser.set_defaults(seed=None)
    ablation = parser.add_argument_group("ablations of the best recipe")
    ablation.add_argument("--no-augment", action="store_true", help="no random crop and flip")
    ablation.add_argument("--no-batch-norm", action="store_true")
    ablation.add_argument("--no-tta", action="store_true", help="no test-time views: neither flip nor shifts")
    ablation.add_argument("--no-tta-shift", action="store_true", help="test-time flip only, no 1-pixel shifts")
    ablation.add_argument("--schedule", choices=["onecycle", "constant"])
    ablation.add_argument("--weight-decay", type=float)
    ablation.add_argument("--label-smoothing", type=float)
    ablation.add_argument("--widths", type=cli.positive_int, nargs="+", help="channels of each stage")
    args = cli.parse(parser)
    started = time.perf_counter()
    if args.seed is None:
        args.seed = 0
    cfg = recipe_config(args)
    device = cli.pick_device(args.device)
    data, train_idx, val_idx = cli.load_data(args)
    print(f"1.3.7 recipe {args.recipe}: {cfg.epochs} epochs on {len(train_idx)} images, device {device}, "
          f"batch {cfg.batch_size}, lr {cfg.lr}, momentum {cfg.momentum}, dropout {cfg.dropout}, "
          f"{cfg.activation}" + (f", widths {cfg.widths}, batch norm {cfg.batch_norm}, augment {cfg.augment}, "
                                 f"{cfg.schedule} schedule, weight decay {cfg.weight_decay}, label smoothing "
                                 f"{cfg.label_smoothing}, test-time flip {cfg.tta_flip}, "
                                 f"test-time shifts {cfg.tta_shift}"
                                 if args.recipe == "best" else ""))
    title = (f"Question 1.3.7, {args.recipe} recipe (batch {cfg.batch_size}, lr {cfg.lr}, momentum {cfg.momentum}, "
             f"dropout {cfg.dropout}, {cfg.activation}" + (", BN, augmentation, one-cycle" if args.recipe == "best" else "") + ")")
    # Runs with changed settings keep checkpoints of their own, beside the recipe's.
    slug = re.sub(r"[^A-Za-z0-9.]+", "_", " ".join(changed_flags(args))).strip("_")
    result, figures, _ = cli.train_and_plot(args, cfg, to_device(data, train_idx, val_idx, device), device,
                                            f"{SCRIPT}_{args.recipe}" + (f"_{slug}" if slug else ""), title,
                                            f"q1_3_7_{args.recipe}")
    print(f"1.3.7 {args.recipe}: best validation {result['best_val_acc']:.2f}% at epoch {result['best_val_epoch']}, "
          f"final test {result['final_test_acc']:.2f}%, {result['epoch_seconds']:.0f} s an epoch")

    # Keep the other recipe's result from an earlier run in the same mode.
    path = Path(args.out) / f"{SCRIPT}.json"
    runs, all_figures = {}, []
    if path.is_file():
        try:
            earlier = json.loads(path.read_text())
        except ValueError:
            earlier = {}
        if earlier.get("quick") == args.quick:
            runs = {k: v for k, v in earlier.get("runs", {}).items() if k != args.recipe}
            all_figures = [f for f in earlier.get("figures", []) if not f.startswith(f"q1_3_7_{args.recipe}_")]
    runs[args.recipe] = {"recipe": args.recipe, "train_config": cli.config_dict(cfg), "flags": changed_flags(args),
                         **result}
    # An ablation run (figures/ablation/<name>/) refreshes the main report, whose table lists it.
    out = Path(args.out)
    cli.write_json(args, SCRIPT, device, cli.data_info(data, train_idx, val_idx),
                   {"runs": runs, "flags": changed_flags(args)}, all_figures + figures, started,
                   report_dir=out.parent.parent if out.parent.name == "ablation" else out)
    print(f"wrote {', '.join(figures)} and {path}")


if __name__ == "__main__":
    cli.run(main)
