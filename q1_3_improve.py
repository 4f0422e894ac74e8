"""Question 1.3.7: the student's improved model, and far better ones in a similar time.

python q1_3_improve.py                      # --recipe best: airbench-style whitened net, Muon
python q1_3_improve.py --recipe student     # lr 0.01, momentum 0.85, dropout 0.55, GELU
python q1_3_improve.py --recipe bn_onecycle # the earlier best: BN, augmentation, one-cycle, 20 epochs
python q1_3_improve.py --no-lookahead --epochs 4 --out figures/ablation/best_no_lookahead_4ep  # an ablation
"""
import re
import time
from pathlib import Path

from common import cli
from common.config import QUICK, RECIPES, TrainConfig, as_dict, as_flags, as_words, differences
from common.files import locked
from common.reporting.page import refresh_reports

SCRIPT = "q1_3_improve"


def main():
    parser = cli.base_parser(__doc__)
    parser.add_argument("--recipe", choices=sorted(RECIPES), default="best")
    cli.add_training_flags(parser, recipe=True)
    parser.add_argument("--no-tta", action="store_true", help="no test-time views: neither flip nor shifts")
    args = cli.parse(parser)
    # Heavy imports after parsing: --help answers at once.
    from common.checkpoint import Checkpoints
    from common.data import data_info, load_data, to_device
    from common.reporting.figures import TIME_FIGURE, draw_curves, draw_time
    from common.train import train_or_reuse
    from common.results import read_record, write_record
    started = time.perf_counter()
    if args.no_tta:
        args.tta_flip = args.tta_shift = False
    recipe = RECIPES[args.recipe]
    cfg = cli.config_from_args(args, recipe, QUICK[args.recipe])
    # How this run differs from its recipe: in its JSON, and in the names of its checkpoints.
    flags = as_flags(differences(cfg, cli.recipe_config(recipe, QUICK[args.recipe] if args.quick else None)))
    device = cli.pick_device(args.device)
    data, train_idx, val_idx = load_data(args)
    settings = ", ".join(as_words(differences(cfg, TrainConfig(seed=cfg.seed))))
    print(
        f"1.3.7 recipe {args.recipe}: {cfg.epochs} epoch{'s' if cfg.epochs != 1 else ''} on {len(train_idx)} "
        f"images, device {device}; settings beside the baseline's: {settings}"
    )
    slug = re.sub(r"[^A-Za-z0-9.]+", "_", " ".join(flags)).strip("_")
    earlier = read_record(Path(args.out) / f"{SCRIPT}.json", args.quick) or {}
    name = f"{SCRIPT}_{args.recipe}" + (f"_{slug}" if slug else "")
    tensors = to_device(data, train_idx, val_idx, device)
    result, _ = train_or_reuse(cfg, tensors, device, checkpoints=Checkpoints.of_run(args, name),
                               resume=args.resume, earlier=(earlier.get("runs") or {}).get(args.recipe),
                               label=f"1.3.7 {args.recipe}")
    figures = draw_curves(
        args.out, SCRIPT, args.recipe, {**result, "train_config": as_dict(cfg), "flags": flags}, args.quick
    )
    print(f"1.3.7 {args.recipe}: best validation {result['best_val_acc']:.2f}% at epoch "
          f"{result['best_val_epoch']}, final test {result['final_test_acc']:.2f}%, "
          f"{result['epoch_seconds']:.0f} s an epoch")

    # Other recipes' runs may be written into this folder meanwhile, or at the same time: under
    # the folder's lock, read them again and keep them.
    with locked(args.out):
        earlier = read_record(Path(args.out) / f"{SCRIPT}.json", args.quick) or {}
        runs = {
            k: v for k, v in (earlier.get("runs") or {}).items() if k != args.recipe and isinstance(v, dict)
        }
        kept_figures = [f for f in earlier.get("figures") or []
                        if not f.startswith(f"q1_3_7_{args.recipe}_") and f != TIME_FIGURE]
        runs[args.recipe] = {**result, "recipe": args.recipe, "train_config": as_dict(cfg), "flags": flags}
        if args.quick:
            runs[args.recipe]["quick_settings"] = getattr(args, "quick_settings", {})
        if len(runs) > 1:  # every recipe run so far, on one time axis
            figures.append(draw_time(args.out, runs, args.quick))
        path = write_record(args, SCRIPT, device, data_info(data, train_idx, val_idx),
                            {"runs": runs, "flags": flags}, kept_figures + figures, started)
    print(f"wrote {', '.join(f'{args.out}/{f}' for f in figures)} and {path}")
    return args.out


if __name__ == "__main__":
    cli.run(main, then=refresh_reports)
