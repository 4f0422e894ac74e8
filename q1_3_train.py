"""Questions 1.3.1-1.3.4: train the baseline ConvNet and plot its loss and accuracy.

    python q1_3_train.py                     # the report's run: SGD lr 0.001, momentum 0.9, 20 epochs
    python q1_3_train.py --quick             # a one-minute smoke run
"""
import time
from pathlib import Path

from common import cli
from common.config import BASELINE, QUICK, TrainConfig, as_dict
from common.reporting.page import refresh_reports

SCRIPT = "q1_3_train"


def main():
    parser = cli.base_parser(__doc__)
    cli.add_training_flags(parser, shown=TrainConfig(**BASELINE))
    args = cli.parse(parser)
    # Heavy imports after parsing: --help answers at once.
    from common.checkpoint import Checkpoints
    from common.data import data_info, load_data, to_device
    from common.reporting.figures import draw_curves, draw_steps
    from common.results import read_record, runs_of, write_record
    from common.train import train_or_reuse
    started = time.perf_counter()
    cfg = cli.config_from_args(args, BASELINE, QUICK["baseline"])
    device = cli.pick_device(args.device)
    data, train_idx, val_idx = load_data(args)
    print(
        f"1.3.2 training on {len(train_idx)} images, validating on {len(val_idx)}, device {device}: "
        f"lr {cfg.lr}, momentum {cfg.momentum}, {cfg.epochs} epochs, batch {cfg.batch_size}, dropout "
        f"{cfg.dropout}"
    )
    earlier = (runs_of(read_record(Path(args.out) / f"{SCRIPT}.json", args.quick) or {}).get("baseline")
               if args.resume else None)
    tensors = to_device(data, train_idx, val_idx, device)
    result, model = train_or_reuse(cfg, tensors, device, checkpoints=Checkpoints.of_run(args, SCRIPT),
                                   resume=args.resume, earlier=earlier, label="1.3.2")
    run = {**result, "train_config": as_dict(cfg)}
    figures = draw_curves(args.out, SCRIPT, "baseline", run, args.quick)
    if result.get("steps"):
        figures.append(draw_steps(args.out, run, args.quick))
    print(f"1.3.3 best validation accuracy {result['best_val_acc']:.2f}% at epoch {result['best_val_epoch']}")
    print(f"1.3.4 final test accuracy {result['final_test_acc']:.2f}% "
          f"(the best-validation model scores {result['best_model_test_acc']:.2f}%)")
    # SPEC.md: the baseline's record holds its run at the top level (read back, it is "runs" like the others)
    path = write_record(args, SCRIPT, device, data_info(data, train_idx, val_idx), run, figures, started)
    print(f"wrote {', '.join(f'{args.out}/{f}' for f in figures)} and {path}")
    return args.out


if __name__ == "__main__":
    cli.run(main, then=refresh_reports)
