"""Every figure of a results folder, drawn from its JSON records: the scripts draw through
these functions, and this command redraws them all, for a folder and every folder under it,
without training:

    python -m common.figures                               # figures/ and every folder under it
    python -m common.figures figures/seeds/baseline_seed1  # one folder (and those under it)

The 1.1.1 samples and the 1.3.6 pictures show images, read from the data (--data-dir, as the
scripts take it) by the indices their record holds; every other figure is drawn from the
numbers in the records. A run with several seeds (seeds/ and ablation/ under its folder) is
drawn as their mean in a band from the lowest to the highest seed.
"""
import argparse
import sys
from dataclasses import fields
from pathlib import Path

from .config import RECIPE_TITLES, SEEDS_FOLDER, TrainConfig, as_words, differences
from .results import read_record, runs_of
from .seeds import same_but_seed
from .timing import TIME_FIGURE

QUICK_MARK = " [QUICK]"
SCRIPTS = ("q1_1_data", "q1_3_train", "q1_3_dropout", "q1_3_improve")
SAMPLES_FIGURE, SAMPLE_INDICES = "q1_1_1_samples.png", [0, 1, 2, 3]
# Settings beyond the report's that a heading names: the readings' and the precision.
VARIANT_SETTINGS = ("dropout_after", "val_split", "val_size", "precision")


def titled(text, quick):
    return text + (QUICK_MARK if quick else "")


def config_of(run):
    """The TrainConfig a run's record says it trained (settings it lacks: their defaults)."""
    saved = run.get("train_config") or {}
    known = {f.name: f.default for f in fields(TrainConfig)}
    return TrainConfig(**{k: tuple(v) if isinstance(known[k], tuple) else v for k, v in saved.items() if k in known})


def heading(script, key, run):
    """The title of a run's loss and accuracy figures, from its record."""
    cfg = config_of(run)
    if script == "q1_3_train":
        text = (f"Question 1.3.4: baseline ConvNet (lr {cfg.lr}, momentum {cfg.momentum}, batch {cfg.batch_size}, "
                f"dropout {cfg.dropout})")
    elif script == "q1_3_dropout":
        text = f"Question 1.3.5: dropout p = {key} (lr {cfg.lr}, momentum {cfg.momentum})"
    else:
        flags = run.get("flags") or []
        return f"Question 1.3.7, {RECIPE_TITLES[key]}" + (f" with {' '.join(flags)}" if flags else "")
    variant = [(k, v) for k, v in differences(cfg, TrainConfig()) if k in VARIANT_SETTINGS]
    return text + (f"; {', '.join(as_words(variant))}" if variant else "")


def prefix(script, key):
    return {"q1_3_train": "q1_3_4", "q1_3_dropout": f"q1_3_5_dropout_{key}"}.get(script, f"q1_3_7_{key}")


def loss_note(cfg):
    """Why a regularized run's training loss can sit above its validation loss."""
    causes = ([f"against label-smoothed targets (smoothing {cfg.label_smoothing}, so even a perfect "
               f"model's loss stays above 0)"] if cfg.label_smoothing else []) + \
        (["on augmented images (random crops and flips, harder than the originals)"] if cfg.augment else []) + \
        ([f"with dropout {cfg.dropout} active"] if cfg.dropout else [])
    if not (cfg.label_smoothing or cfg.augment):
        return None
    return ("Training loss sits above validation loss because it is measured during training "
            + ", ".join(causes) + "; validation uses plain targets and images in eval mode.")


def seed_histories(out, script, key, run, records=None):
    """[history] of this run and the runs that differ from it only in seed, under out's seeds/
    and ablation/ folders, in seed order; records: a cache shared by the calls of one redraw."""
    seeds = same_but_seed(out, script, key, run.get("train_config") or {}, run.get("quick", False),
                          (SEEDS_FOLDER, "ablation"), records)
    return [run["history"] for run, _, _ in seeds.values()]


def draw_curves(out, script, key, run, quick, records=None):
    """A run's loss and accuracy figures (a band over its seeds where it has several);
    returns their names."""
    from .plots import plot_curves
    histories = seed_histories(out, script, key, {**run, "quick": quick}, records)
    histories = histories if len(histories) > 1 else [run["history"]]
    if len(histories) > 1:
        mean_acc = [sum(v) / len(v) for v in zip(*(h["val_acc"] for h in histories))]
        best = histories[0]["epoch"][max(range(len(mean_acc)), key=mean_acc.__getitem__)]
    else:
        best = run["best_val_epoch"]
    names = []
    for metric, word, suffix in (("loss", "Loss", "loss"), ("acc", "Accuracy", "accuracy")):
        name = f"{prefix(script, key)}_{suffix}.png"
        plot_curves(histories, best, titled(f"{heading(script, key, run)}: {word}", quick), Path(out) / name, metric,
                    note=loss_note(config_of(run)) if metric == "loss" else None)
        names.append(name)
    return names


def draw_samples(out, data, quick, indices=SAMPLE_INDICES):
    """1.1.1: four training images with their classes."""
    import torch
    from .plots import plot_samples
    chosen = torch.tensor(indices)
    plot_samples(data.train_images[chosen], data.train_labels[chosen], Path(out) / SAMPLES_FIGURE,
                 titled(f"Question 1.1.1: {len(indices)} CIFAR-10 training images".replace("4 ", "four "), quick))
    return SAMPLES_FIGURE


def draw_predictions(out, data, predictions, best, quick):
    """1.3.6: the ten test images fed raw and normalized, from the probabilities the record holds."""
    from .plots import plot_predictions
    images = data.test_images[predictions["indices"]]
    names = []
    for mode, word in (("raw", "without normalization"), ("normalized", "normalized")):
        r = predictions[mode]
        name = f"q1_3_6_predictions_{mode}.png"
        plot_predictions(images, predictions["true"], r["pred"], r["probs"], Path(out) / name,
                         titled(f"Question 1.3.6: dropout p = {best}, test images fed {word}: "
                                f"{r['accuracy']:.0f}% right", quick))
        names.append(name)
    return names


def draw_time(out, runs, quick):
    """1.3.7: every recipe's validation accuracy against training time, on one axis."""
    from .plots import plot_accuracy_against_time
    from .timing import TARGET, minutes_axis
    minutes, axis = minutes_axis(runs, out)
    plot_accuracy_against_time({RECIPE_TITLES[k].split(" (")[0]: (minutes[k], run["history"]["val_acc"])
                                for k, run in runs.items()}, TARGET,
                               f"{TARGET}%: the report's student recipe (final test)", Path(out) / TIME_FIGURE,
                               titled("1.3.7: validation accuracy against training time", quick), axis)
    return TIME_FIGURE


def draw_seed_bands(out, records=None):
    """Redraw the curves of every run in out that has other seeds (as REPORT.md is rebuilt, so
    a new seed's run widens the band)."""
    records = {} if records is None else records
    for script in ("q1_3_train", "q1_3_dropout", "q1_3_improve"):
        record = read_record(Path(out) / f"{script}.json")
        if not record:
            continue
        for key, run in runs_of(record, script).items():
            if len(seed_histories(out, script, key, {**run, "quick": record.get("quick")}, records)) > 1:
                draw_curves(out, script, key, run, record.get("quick"), records)


class NoData(Exception):
    """The images a figure shows cannot be read."""


def redraw_folder(folder, images, records):
    """Every figure the records in folder list; returns (names drawn, [(figure, why not)])."""
    from .claims import draw_confusion, draw_dropout_comparison
    drawn, skipped = [], []
    for script in SCRIPTS:
        record = read_record(folder / f"{script}.json")
        if not record:
            continue
        quick, listed = bool(record.get("quick")), set(record.get("figures") or [])
        for key, run in runs_of(record, script).items():
            if f"{prefix(script, key)}_loss.png" in listed:  # the figures its script kept
                drawn += draw_curves(folder, script, key, run, quick, records)
        wants_images = {"q1_1_data": [SAMPLES_FIGURE] if SAMPLES_FIGURE in listed else [],
                        "q1_3_dropout": [f for f in listed if f.startswith("q1_3_6_") and f.endswith(".png")]}
        if wants_images.get(script):
            try:
                data = images()
                if script == "q1_1_data":
                    drawn.append(draw_samples(folder, data, quick, record.get("sample_indices", SAMPLE_INDICES)))
                else:
                    drawn += draw_predictions(folder, data, record["predictions"], f"{record['best_dropout']:g}",
                                              quick)
            except NoData as why:
                skipped += [(name, str(why)) for name in wants_images[script]]
        if script == "q1_3_improve" and TIME_FIGURE in listed:
            drawn.append(draw_time(folder, runs_of(record, script), quick))
    drawn += [name for name in (draw_dropout_comparison(folder), draw_confusion(folder)) if name]
    return drawn, skipped


def result_folders(root):
    """root and every folder under it that holds a script's record, in name order."""
    root = Path(root)
    found = {path.parent for path in root.rglob("q1_*.json")}
    return sorted(found | ({root} if any(root.glob("q1_*.json")) else set()))


def redraw(root, data_dir=None, skip_checksum=False):
    """Redraw every figure under root; returns (figures drawn, [(path, why not drawn)],
    damaged records)."""
    from .report import damaged_records
    cache = {}

    def images():
        if "data" not in cache:
            from .data import load_cifar10
            from .errors import DataError
            try:
                cache["data"] = load_cifar10(data_dir, offline=True, skip_checksum=skip_checksum)
            except DataError as err:
                cache["data"] = NoData(f"the images come from the data, which could not be read: {err}")
        if isinstance(cache["data"], NoData):
            raise cache["data"]
        return cache["data"]

    drawn, skipped, damaged, records = 0, [], [], {}
    for folder in result_folders(root):
        names, missing = redraw_folder(folder, images, records)
        drawn += len(names)
        skipped += [(folder / name, why) for name, why in missing]
        damaged += damaged_records(folder)
    return drawn, skipped, damaged


def main(argv=None):
    from . import cli
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=cli.HelpFormatter)
    parser.add_argument("folder", nargs="?", default="figures", help="a results folder (the scripts' --out)")
    cli.add_data_flags(parser)
    args = parser.parse_args(argv)
    root = Path(args.folder)
    if not root.is_dir():
        sys.exit(f"error: {root} is not a folder; pass a results folder (the scripts' --out, figures/ by default).")
    import time
    started = time.perf_counter()
    drawn, skipped, damaged = redraw(root, args.data_dir, args.skip_checksum)
    print(f"redrew {drawn} figures under {root} in {time.perf_counter() - started:.1f} s")
    for path, why in skipped:
        print(f"not redrawn: {path}: {why}", file=sys.stderr)
    for line in damaged:
        print(f"warning: {line}", file=sys.stderr)
    if skipped or damaged:
        sys.exit(1)


if __name__ == "__main__":
    main()
