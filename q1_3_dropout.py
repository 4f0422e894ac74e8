"""Questions 1.3.5-1.3.6: the dropout sweep, then the best model's predictions on ten test images.

    python q1_3_dropout.py                         # p = 0.2, 0.5, 0.8 with the report's settings
    python q1_3_dropout.py --resume                # go on with a sweep that was stopped
    python q1_3_dropout.py --images 0 1000 2000    # other test images for 1.3.6
"""
import time
from pathlib import Path

from common import cli
from common.config import BASELINE, CLASSES, QUICK, TrainConfig, as_dict
from common.errors import UsageError
from common.files import locked, write_text
from common.reporting.claims import DROPOUT_FIGURE
from common.reporting.page import probability_table, refresh_reports

SCRIPT = "q1_3_dropout"


def train_p(args, key, cfg, tensors, device, earlier_run=None):
    """p = key's run (trained, or its finished run reused under --resume) with its curves drawn, and
    its final model (None when reused: a reused run keeps only its record)."""
    from common.checkpoint import Checkpoints
    from common.reporting.figures import draw_curves
    from common.train import train_or_reuse
    result, model = train_or_reuse(
        cfg, tensors, device, checkpoints=Checkpoints.of_run(args, f"{SCRIPT}_p{key}"), resume=args.resume,
        earlier=earlier_run, label=f"1.3.5 p = {key}",
        announce=f"1.3.5 p = {key}: training {cfg.epochs} epoch{'s' if cfg.epochs != 1 else ''} on "
        f"{len(tensors.train_y)} images, device {device}")
    run = {**result, "train_config": as_dict(cfg)}
    return {**run, "figures": draw_curves(args.out, SCRIPT, key, run, args.quick)}, model


def final_model(args, key, cfg, tensors, device, trained):
    """p = key's final model: the one just trained, else its checkpoint's weights, else trained
    again (a run reused by --resume whose weights are gone)."""
    from common.checkpoint import Checkpoints
    from common.train import build_model
    if trained is not None:
        return trained
    weights = Checkpoints.of_run(args, f"{SCRIPT}_p{key}").final_weights(cfg)
    if weights is None:
        print(f"1.3.6 the final weights of p = {key} are not in {args.checkpoint_dir}: training it again")
        return train_p(args, key, cfg, tensors, device)[1]
    model = build_model(cfg, device)
    model.load_state_dict(weights)
    return model


def by_validation(runs):
    """The p whose run had the best validation accuracy (ties: the smallest p)."""
    return max(sorted(runs, key=float), key=lambda k: runs[k]["best_val_acc"])


def predictions_of_best(args, data, device, best, model):
    """1.3.6: the best model on the ten test images and the whole test set, fed raw and
    normalized; returns (results, figure names)."""
    from common.reporting.figures import draw_predictions
    from common.predict import predictions, whole_test_set_predictions
    images, true = data.test_images[args.images], data.test_labels[args.images]
    if len(set(true.tolist())) == 1 and len(true) > 1:
        print(f"      note: the chosen test images are all of class {CLASSES[int(true[0])]}; "
              f"pass --images to pick others")
    result = predictions(model, images, true, device, args.images)
    result["test_set"] = whole_test_set_predictions(model, data.test_images, data.test_labels, device)
    figures = draw_predictions(args.out, data, result, best, args.quick)
    for mode, word in (("raw", "without normalization"), ("normalized", "normalized")):
        print(f"1.3.6 fed {word}: accuracy {result[mode]['accuracy']:.0f}% on the ten images, "
              f"{result['test_set'][mode]['accuracy']:.2f}% on the whole test set")
    table = "q1_3_6_probabilities.md"
    write_text(Path(args.out, table), probability_table(result, best, quick=args.quick))
    return result, figures + [table]


def main():
    parser = cli.base_parser(__doc__)
    cli.add_training_flags(parser, shown=TrainConfig(**BASELINE), exclude=("dropout",))
    parser.add_argument("--dropouts", type=cli.unit_interval, nargs="+", default=[0.2, 0.5, 0.8],
                        help="dropout probabilities p to train")
    parser.add_argument(
        "--images",
        type=int,
        nargs="+",
        help="test-set indices of the images shown in 1.3.6 (default: ten drawn by a "
        "shuffle of the test set seeded with --seed, as the report's shuffled loader did)",
    )
    args = cli.parse(parser)
    # Heavy imports after parsing: --help answers at once.
    from common.data import data_info, load_data, to_device
    from common.predict import shown_images
    from common.results import read_record, write_record
    started = time.perf_counter()
    configs = {
        f"{p:g}": cli.config_from_args(args, BASELINE, QUICK["dropout"], dropout=p) for p in args.dropouts
    }
    device = cli.pick_device(args.device)
    data, train_idx, val_idx = load_data(args)
    if args.images is None:
        args.images = shown_images(len(data.test_labels), args.seed)
    bad = [i for i in args.images if not 0 <= i < len(data.test_labels)]
    if bad:
        raise UsageError(f"--images {' '.join(map(str, bad))}: test images are numbered 0 to "
                         f"{len(data.test_labels) - 1}.")
    tensors = to_device(data, train_idx, val_idx, device)
    earlier = (read_record(Path(args.out) / f"{SCRIPT}.json", args.quick) or {}).get("runs") or {} \
        if args.resume else {}

    runs, models = {}, {}
    for key, cfg in configs.items():
        runs[key], models[key] = train_p(args, key, cfg, tensors, device, earlier.get(key))
        print(f"1.3.5 p = {key}: best validation {runs[key]['best_val_acc']:.2f}% at epoch "
              f"{runs[key]['best_val_epoch']}, final test {runs[key]['final_test_acc']:.2f}%")

    # Only our best p can be the folder's best: its model is made ready (trained again if its
    # weights are gone) before the lock, which holds other sweeps back only while it is held.
    ours = by_validation(runs)
    best_model = final_model(args, ours, configs[ours], tensors, device, models[ours])

    # Other sweeps may write into this folder at the same time (say, one p per process): under
    # the folder's lock, keep their runs of other p, and redo 1.3.6 only if the best is ours.
    with locked(args.out):
        earlier = read_record(Path(args.out) / f"{SCRIPT}.json", args.quick) or {}
        kept = {k: v for k, v in (earlier.get("runs") or {}).items() if k not in runs and isinstance(v, dict)}
        every = dict(sorted({**kept, **runs}.items(), key=lambda item: float(item[0])))
        best = by_validation(every)
        print(f"1.3.6 best dropout by validation accuracy: p = {best}")
        if best == ours:
            shown = predictions_of_best(args, data, device, best, best_model)
        else:
            print(f"1.3.6 p = {best} is another sweep's run in {args.out}: its 1.3.6 results are kept")
            shown = (
                earlier["predictions"],
                [f for f in earlier.get("figures") or [] if f.startswith("q1_3_6_")],
            )
        result, shown_figures = shown
        figures = [f for r in every.values() for f in r.get("figures") or []]
        figures.append(DROPOUT_FIGURE)  # drawn with every seed's runs as REPORT.md is rebuilt
        figures += shown_figures
        path = write_record(
            args,
            SCRIPT,
            device,
            data_info(data, train_idx, val_idx),
            {"runs": every, "best_dropout": float(best), "predictions": result},
            figures,
            started,
        )
    print(f"wrote {len(figures)} figures and tables to {args.out}, and {path}")
    return args.out


if __name__ == "__main__":
    cli.run(main, then=refresh_reports)
