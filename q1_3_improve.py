"""Question 1.3.7: the student's improved model, and a far better one in the same 20 epochs.

    python q1_3_improve.py                      # --recipe best: BN, augmentation, one-cycle, ...
    python q1_3_improve.py --recipe student     # lr 0.01, momentum 0.85, dropout 0.55, GELU
    python q1_3_improve.py --no-augment --out figures/ablation/no_augment   # one ablation
"""
import re
import time
from pathlib import Path

from common import cli
from common.config import QUICK, RECIPES, as_dict, as_flags, differences
from common.data import to_device
from common.experiment import load_data, train_or_reuse
from common.results import data_info, read_record, write_record

SCRIPT = "q1_3_improve"


def main():
    parser = cli.base_parser(__doc__)
    parser.add_argument("--recipe", choices=sorted(RECIPES), default="best")
    cli.add_training_flags(parser, recipe=True)
    parser.add_argument("--no-tta", action="store_true", help="no test-time views: neither flip nor shifts")
    args = cli.parse(parser)
    started = time.perf_counter()
    if args.no_tta:
        args.tta_flip = args.tta_shift = False
    recipe = RECIPES[args.recipe]
    cfg = cli.config_from_args(args, recipe, QUICK[args.recipe])
    # How this run differs from its recipe: in its JSON, and in the names of its checkpoints.
    flags = as_flags(differences(cfg, cli.recipe_config(recipe, QUICK[args.recipe] if args.quick else None)))
    device = cli.pick_device(args.device)
    data, train_idx, val_idx = load_data(args)
    print(f"1.3.7 recipe {args.recipe}: {cfg.epochs} epoch{'s' if cfg.epochs != 1 else ''} on {len(train_idx)} "
          f"images, device {device}, batch {cfg.batch_size}, lr {cfg.lr}, momentum {cfg.momentum}, dropout "
          f"{cfg.dropout}, {cfg.activation}" + (f", widths {cfg.widths}, batch norm {cfg.batch_norm}, augment "
                                                f"{cfg.augment}, {cfg.schedule} schedule, weight decay "
                                                f"{cfg.weight_decay}, label smoothing {cfg.label_smoothing}, "
                                                f"test-time flip {cfg.tta_flip}, test-time shifts {cfg.tta_shift}"
                                                if args.recipe == "best" else ""))
    heading = (f"Question 1.3.7, {args.recipe} recipe (batch {cfg.batch_size}, lr {cfg.lr}, momentum {cfg.momentum}, "
               f"dropout {cfg.dropout}, {cfg.activation}" + (", BN, augmentation, one-cycle" if args.recipe == "best" else "") + ")")
    slug = re.sub(r"[^A-Za-z0-9.]+", "_", " ".join(flags)).strip("_")
    earlier = read_record(Path(args.out) / f"{SCRIPT}.json", args.quick) or {}
    result, figures, _ = train_or_reuse(args, cfg, (earlier.get("runs") or {}).get(args.recipe),
                                        to_device(data, train_idx, val_idx, device), device,
                                        f"{SCRIPT}_{args.recipe}" + (f"_{slug}" if slug else ""), heading,
                                        f"q1_3_7_{args.recipe}", f"1.3.7 {args.recipe}")
    print(f"1.3.7 {args.recipe}: best validation {result['best_val_acc']:.2f}% at epoch {result['best_val_epoch']}, "
          f"final test {result['final_test_acc']:.2f}%, {result['epoch_seconds']:.0f} s an epoch")

    # Keep the other recipe's result from an earlier run in the same mode.
    runs = {k: v for k, v in (earlier.get("runs") or {}).items() if k != args.recipe}
    kept_figures = [f for f in earlier.get("figures") or [] if not f.startswith(f"q1_3_7_{args.recipe}_")]
    runs[args.recipe] = {**result, "recipe": args.recipe, "train_config": as_dict(cfg), "flags": flags}
    path = write_record(args, SCRIPT, device, data_info(data, train_idx, val_idx),
                        {"runs": runs, "flags": flags}, kept_figures + figures, started)
    print(f"wrote {', '.join(f'{args.out}/{f}' for f in figures)} and {path}")
    return args.out


if __name__ == "__main__":
    cli.run(main)
