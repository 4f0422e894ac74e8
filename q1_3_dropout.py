"""Questions 1.3.5-1.3.6: the dropout sweep, then the best model's predictions on ten test images.

    python q1_3_dropout.py                         # p = 0.2, 0.5, 0.8 with the report's settings
    python q1_3_dropout.py --resume                # go on with a sweep that was stopped
    python q1_3_dropout.py --images 0 1000 2000    # other test images for 1.3.6
"""
import json
import time
from pathlib import Path

import torch

from common import cli
from common.data import CLASSES, DataError
from common.plots import plot_comparison, plot_predictions
from common.report import probability_table
from common.train import TrainConfig, build_model, predictions, whole_test_set_predictions, to_device

SCRIPT = "q1_3_dropout"


def previous_runs(path, quick):
    """Finished runs of an earlier sweep in the same mode, for --resume."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    return record.get("runs", {}) if record.get("quick") == quick else {}


def load_final_model(args, cfg, name, device):
    path = Path(args.checkpoint_dir) / f"{name}_final.pt"
    if not path.is_file():
        return None
    state = torch.load(path, map_location=device, weights_only=False)
    model = build_model(cfg, device)
    model.load_state_dict(state["model"])
    return model


def main():
    parser = cli.base_parser(__doc__)
    cli.add_training_args(parser, TrainConfig(), dropout=False)
    parser.add_argument("--dropouts", type=cli.unit_interval, nargs="+", default=[0.2, 0.5, 0.8],
                        help="dropout probabilities p to train")
    parser.add_argument("--images", type=int, nargs="+", default=list(range(10)),
                        help="test-set indices of the images shown in 1.3.6")
    args = cli.parse(parser)
    started = time.perf_counter()
    device = cli.pick_device(args.device)
    data, train_idx, val_idx = cli.load_data(args)
    bad = [i for i in args.images if not 0 <= i < len(data.test_labels)]
    if bad:
        raise DataError(f"--images {' '.join(map(str, bad))}: test images are numbered 0 to "
                        f"{len(data.test_labels) - 1}.")
    device_data = to_device(data, train_idx, val_idx, device)
    json_path = Path(args.out) / f"{SCRIPT}.json"
    earlier = previous_runs(json_path, args.quick) if args.resume else {}

    runs, figures, models = {}, [], {}
    for p in args.dropouts:
        key = f"{p:g}"
        cfg = TrainConfig(epochs=1 if args.quick else args.epochs, batch_size=args.batch_size, lr=args.lr,
                          momentum=args.momentum, dropout=p, seed=args.seed, log_every=50 if args.quick else 200)
        cfg.check()
        name = f"{SCRIPT}_p{key}" + ("_quick" if args.quick else "")
        old = earlier.get(key)
        model = load_final_model(args, cfg, name, device) if old and old.get("train_config") == cli.config_dict(cfg) else None
        if model is not None:
            print(f"1.3.5 p = {key}: reusing the finished run (--resume)")
            runs[key] = old
            figures += old["figures"]
        else:
            print(f"1.3.5 p = {key}: training {cfg.epochs} epochs on {len(train_idx)} images, device {device}")
            result, run_figures, model = cli.train_and_plot(
                args, cfg, device_data, device, f"{SCRIPT}_p{key}",
                f"Question 1.3.5: dropout p = {key} (lr {cfg.lr}, momentum {cfg.momentum})", f"q1_3_5_dropout_{key}")
            runs[key] = {"train_config": cli.config_dict(cfg), "figures": run_figures, **result}
            figures += run_figures
        models[key] = model
        r = runs[key]
        print(f"1.3.5 p = {key}: best validation {r['best_val_acc']:.2f}% at epoch {r['best_val_epoch']}, "
              f"final test {r['final_test_acc']:.2f}%")

    histories = {f"p = {k}": r["history"] for k, r in runs.items()}
    baseline_path = Path(args.out) / "q1_3_train.json"
    if baseline_path.is_file():
        baseline = json.loads(baseline_path.read_text())
        if baseline.get("quick") == args.quick:
            histories = {"p = 0 (baseline)": baseline["history"], **histories}
    plot_comparison(histories, f"{args.out}/q1_3_5_dropout_comparison.png",
                    "Question 1.3.5: validation accuracy and loss for each dropout p"
                    + (" [QUICK]" if args.quick else ""))
    figures.append("q1_3_5_dropout_comparison.png")

    best = max(runs, key=lambda k: runs[k]["best_val_acc"])
    print(f"1.3.6 best dropout by validation accuracy: p = {best}")
    images, true = data.test_images[args.images], data.test_labels[args.images]
    if len(set(true.tolist())) == 1 and len(true) > 1:
        print(f"      note: the chosen test images are all of class {CLASSES[int(true[0])]} (this copy's "
              f"test batch is sorted by class); pass --images to pick others")
    result = predictions(models[best], images, true, device, args.images)
    result["test_set"] = whole_test_set_predictions(models[best], data.test_images, data.test_labels, device)
    for mode, word in (("raw", "without normalization"), ("normalized", "normalized")):
        figure = f"q1_3_6_predictions_{mode}.png"
        r = result[mode]
        plot_predictions(images, true, r["pred"], r["probs"], f"{args.out}/{figure}",
                         f"Question 1.3.6: dropout p = {best}, test images fed {word}: "
                         f"{r['accuracy']:.0f}% right" + (" [QUICK]" if args.quick else ""))
        figures.append(figure)
        print(f"1.3.6 fed {word}: accuracy {r['accuracy']:.0f}% on the ten images, "
              f"{result['test_set'][mode]['accuracy']:.2f}% on the whole test set")
    table = "q1_3_6_probabilities.md"
    Path(args.out, table).write_text(probability_table(result, best))
    figures.append(table)

    path = cli.write_json(args, SCRIPT, device, cli.data_info(data, train_idx, val_idx),
                          {"runs": runs, "best_dropout": float(best), "predictions": result}, figures, started)
    print(f"wrote {len(figures)} figures and tables, and {path}")


if __name__ == "__main__":
    cli.run(main)
