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
import textwrap
import time
from dataclasses import fields
from pathlib import Path

from .. import cli
from ..config import (CLASSES, QUICK_MARK, READING_NAMES, RECIPE_NAMES, RECIPE_TITLES, SCRIPTS, SEEDS_FOLDER,
                      TrainConfig, as_words, differences, figure_prefix, reading_of)
from ..errors import DataError
from ..files import replaced_atomically
from ..results import runs_of
from .claims import CONFUSION_FIGURE, DROPOUT_FIGURE, confusion_runs
from .folder import Records, Results
from .timing import TARGET, TIME_FIGURE, elapsed_minutes

RIGHT, WRONG = "green", "red"


def _pyplot():
    """matplotlib's pyplot on its file-only backend, imported with the first figure drawn: it
    takes most of a second, which --help and a rebuilt REPORT.md need not wait for. Under a
    notebook's %run the kernel's backend stays: switching it would stop the student's own
    plots from showing, and every figure here is closed once saved, so none shows inline."""
    import matplotlib
    if "IPython" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path, rect=(0, 0, 1, 1)):
    fig.tight_layout(rect=rect)
    try:
        with replaced_atomically(path) as tmp:
            fig.savefig(tmp, dpi=110)
    finally:
        _pyplot().close(fig)


def _per_epoch_axes(ax):
    """Whole-number epochs on x, and plain numbers on y: a loss of 2.302 is not 0.001 + 2.301."""
    ax.xaxis.set_major_locator(_pyplot().MaxNLocator(integer=True))
    ax.ticklabel_format(axis="y", useOffset=False, style="plain")
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3)


def plot_samples(images, labels, path, title="CIFAR-10 training images"):
    """1.1.1: a few uint8 3x32x32 images, enlarged, each titled with its class."""
    fig, axes = _pyplot().subplots(1, len(images), figsize=(2.6 * len(images), 3.0))
    for ax, image, label in zip(axes, images, labels):
        # each pixel made an 8 x 8 block before drawing, so no resampling can blur it
        ax.imshow(image.repeat_interleave(8, 1).repeat_interleave(8, 2).permute(1, 2, 0).numpy(),
                  interpolation="nearest")
        ax.set_title(CLASSES[int(label)])
        ax.axis("off")
    fig.suptitle(title)
    _save(fig, path)


def plot_curves(histories, best_epoch, title, path, metric, note=None, seeds=None):
    """Figures 2-9, 14-15: training and validation loss ("loss") or accuracy ("acc") per epoch
    of one run, histories[0], its best validation epoch marked; note, if given, is printed
    under the plot. Given its other seeds' histories too (seeds: every seed's number, its
    own first), a band around each curve spans the lowest to the highest seed."""
    histories = histories if isinstance(histories, list) else [histories]
    seeds = seeds or [0] * len(histories)
    own = f"seed {seeds[0]}"
    fig, ax = _pyplot().subplots(figsize=(6.4, 4.2))
    epochs = histories[0]["epoch"]
    for key, style, label in ((f"train_{metric}", "o-", "training"), (f"val_{metric}", "s-", "validation")):
        line, = ax.plot(epochs, histories[0][key], style, ms=3,
                        label=label + (f" ({own})" if len(histories) > 1 else ""))
        if len(histories) > 1:
            per_epoch = list(zip(*(h[key] for h in histories)))
            ax.fill_between(epochs[:len(per_epoch)], [min(v) for v in per_epoch], [max(v) for v in per_epoch],
                            color=line.get_color(), alpha=0.2, linewidth=0)
    ax.axvline(best_epoch, color="grey", ls="--", lw=1,
               label=f"best validation accuracy{f' of {own}' if len(histories) > 1 else ''} "
                     f"(epoch {best_epoch})")
    _per_epoch_axes(ax)
    ax.set_ylabel("cross-entropy loss" if metric == "loss" else "accuracy (%)")
    legend = ax.legend(fontsize=8, title=(f"bands: seeds {_and_listed(seeds)}, lowest to highest"
                                          if len(histories) > 1 else None), title_fontsize=8)
    legend.set_zorder(3)
    ax.set_title(_wrapped(title, 70), fontsize=10)
    lines = textwrap.wrap(note or "", 95, break_on_hyphens=False)
    if lines:
        fig.text(0.5, 0.01, "\n".join(lines), ha="center", va="bottom", fontsize=8)
    _save(fig, path, rect=(0, 0.045 * len(lines), 1, 1))


def _and_listed(numbers):
    """"0, 1 and 2"."""
    words = [str(n) for n in numbers]
    return ", ".join(words[:-1]) + f" and {words[-1]}" if len(words) > 1 else words[0]


def _wrapped(title, width):
    """A title in lines of at most width characters, broken after a colon or a comma where it
    can be rather than mid-phrase."""
    if len(title) <= width:
        return title
    for mark in (": ", "; ", ", ", " ("):
        at = title.rfind(mark, 0, width)
        if at > width // 3:
            cut = at + (1 if mark != " (" else 0)
            return title[:cut].rstrip() + "\n" + _wrapped(title[cut:].lstrip(), width)
    return "\n".join(textwrap.wrap(title, width))


def plot_comparison(runs, path, title):
    """1.3.5: validation accuracy and loss per epoch, one line per dropout p. A run given as
    a list of histories (its seeds) is drawn as their mean, in a band from the lowest to the
    highest seed; the legend says so once."""
    fig, (ax_acc, ax_loss) = _pyplot().subplots(1, 2, figsize=(11, 4.2))
    counts = set()
    for label, histories in runs.items():
        histories = histories if isinstance(histories, list) else [histories]
        counts.add(len(histories))
    same = len(counts) == 1
    for label, histories in runs.items():
        histories = histories if isinstance(histories, list) else [histories]
        epochs = histories[0]["epoch"]
        n = len(histories)
        for ax, key in ((ax_acc, "val_acc"), (ax_loss, "val_loss")):
            per_epoch = list(zip(*(h[key] for h in histories)))
            mean = [sum(v) / n for v in per_epoch]
            line, = ax.plot(epochs[:len(mean)], mean, "o-", ms=3,
                            label=label + ("" if same else f" ({_plural_seeds(n)})"))
            if n > 1:
                ax.fill_between(epochs[:len(mean)], [min(v) for v in per_epoch], [max(v) for v in per_epoch],
                                color=line.get_color(), alpha=0.2, linewidth=0)
    note = None
    if same and max(counts) > 1:
        note = f"mean of {max(counts)} seeds; band: lowest to highest"
    elif not same:
        note = "mean over seeds; band: lowest to highest"
    for ax, ylabel in ((ax_acc, "validation accuracy (%)"), (ax_loss, "validation loss")):
        _per_epoch_axes(ax)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8, title=note, title_fontsize=8)
    fig.suptitle(title, fontsize=11)
    _save(fig, path)


def _plural_seeds(n):
    return f"{n} seed{'s' if n != 1 else ''}"


def plot_confusion(matrices, path, title):
    """Test-set confusion counts, one panel per run ({label: 10 x 10 counts}, two panels a
    row): rows the true class (its accuracy in the label), columns the predicted one, each row
    shaded by its share."""
    cols = min(2, len(matrices))
    rows = (len(matrices) + cols - 1) // cols
    fig, axes = _pyplot().subplots(rows, cols, figsize=(5.6 * cols, 5.6 * rows), squeeze=False)
    for ax in axes.flat[len(matrices):]:
        ax.axis("off")
    for ax, (label, counts) in zip(axes.flat, matrices.items()):
        shares = [[c / max(sum(row), 1) for c in row] for row in counts]
        ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
        for i, row in enumerate(counts):
            for j, c in enumerate(row):
                ax.text(j, i, str(c), ha="center", va="center", fontsize=6 if c < 1000 else 5,
                        color="white" if shares[i][j] > 0.5 else "black")
        ax.set_xticks(range(len(CLASSES)), CLASSES, rotation=60, fontsize=7)
        ax.set_yticks(
            range(len(CLASSES)),
            [f"{name} {100 * shares[i][i]:.0f}%" for i, name in enumerate(CLASSES)],
            fontsize=7,
        )
        ax.set_xlabel("predicted class", fontsize=9)
        ax.set_ylabel("true class (its accuracy)", fontsize=9)
        ax.set_title(label, fontsize=9)
    fig.suptitle(title, fontsize=11)
    _save(fig, path)


def prediction_colour(true, pred):
    return RIGHT if int(true) == int(pred) else WRONG


def plot_predictions(images, true, pred, probs, path, title):
    """Figures 10-13: images titled true / predicted (probability), green if right, red if wrong."""
    n = len(images)
    cols = 5
    rows = (n + cols - 1) // cols
    fig, axes = _pyplot().subplots(rows, cols, figsize=(2.4 * cols, 3.2 * rows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([]), ax.set_yticks([])
        if i >= n:
            ax.axis("off")
            continue
        ax.imshow(images[i].permute(1, 2, 0).numpy(), interpolation="nearest")
        colour = prediction_colour(true[i], pred[i])
        ax.set_title(f"#{i + 1} true: {CLASSES[int(true[i])]}\npred: {CLASSES[int(pred[i])]} "
                     f"({float(probs[i][int(pred[i])]):.2f})", color=colour, fontsize=9)
        for spine in ax.spines.values():
            spine.set_edgecolor(colour)
            spine.set_linewidth(3)
    fig.suptitle(title, fontsize=11)
    _save(fig, path)


def plot_accuracy_against_time(runs, target, target_label, path, title, xlabel):
    """1.3.7: validation accuracy against training minutes, one line per run ({label:
    (minutes at the end of each epoch, validation accuracies)}), with the target marked."""
    fig, ax = _pyplot().subplots(figsize=(7.2, 4.6))
    for label, (minutes, accuracies) in runs.items():
        ax.plot(minutes, accuracies, "o-", ms=3, label=label)
    ax.axhline(target, color="grey", ls="--", lw=1, label=target_label)
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_ylabel("validation accuracy (%)")
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title, fontsize=10)
    _save(fig, path)


def plot_steps(steps, path, title):
    """1.3.1: the training loss and accuracy logged every few steps ([{epoch, step, loss,
    acc}], each the mean over the steps since the last log), against the step."""
    fig, (ax_loss, ax_acc) = _pyplot().subplots(1, 2, figsize=(11, 4.0))
    at = [s["step"] for s in steps]
    for ax, key, ylabel in ((ax_loss, "loss", "training loss (cross-entropy)"),
                            (ax_acc, "acc", "training accuracy (%)")):
        ax.plot(at, [s[key] for s in steps], "-", lw=1)
        ax.set_xlabel(f"step (a point every {at[0]} steps, the mean since the last)")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.ticklabel_format(axis="y", useOffset=False, style="plain")
    fig.suptitle(title, fontsize=11)
    _save(fig, path)


SAMPLES_FIGURE, SAMPLE_INDICES = "q1_1_1_samples.png", [0, 1, 2, 3]
COUNT_WORDS = {4: "four"}  # the samples' count as the title writes it
STEPS_FIGURE = "q1_3_1_steps.png"


def titled(text, quick, out=None):
    """A figure's title: its text, then what its folder's runs share beyond the package's
    defaults (the course sheet's reading, bf16), and the quick mark of a smoke run."""
    settings = Results.of(out).settings if out is not None else {}
    reading = reading_of(settings)
    if reading:
        text += f" ({_reading_name(reading)})"
    elif settings:
        text += f" ({', '.join(as_words(settings.items()))})"
    return text + (f" [{QUICK_MARK}]" if quick else "")


def _reading_name(reading):
    return READING_NAMES[reading]


def config_of(run):
    """The TrainConfig a run's record says it trained (settings it lacks: their defaults)."""
    saved = run.get("train_config") or {}
    known = {f.name: f.default for f in fields(TrainConfig)}
    return TrainConfig(
        **{k: tuple(v) if isinstance(known[k], tuple) else v for k, v in saved.items() if k in known}
    )


def heading(script, key, run):
    """The title of a run's loss and accuracy figures, from its record."""
    cfg = config_of(run)
    if script == "q1_3_train":
        text = (
            f"Question 1.3.4: baseline ConvNet (lr {cfg.lr}, momentum {cfg.momentum}, batch "
            f"{cfg.batch_size}, "
            f"dropout {cfg.dropout})"
        )
    elif script == "q1_3_dropout":
        text = f"Question 1.3.5: dropout p = {key} (lr {cfg.lr}, momentum {cfg.momentum})"
    else:
        flags = run.get("flags") or []
        return f"Question 1.3.7, {RECIPE_TITLES[key]}" + (f" with {' '.join(flags)}" if flags else "")
    return text


def loss_note(cfg):
    """Why a regularized run's training loss can sit above its validation loss."""
    causes = (
        (
            [
                f"against label-smoothed targets (smoothing {cfg.label_smoothing}, so even a perfect "
                f"model's loss stays above 0)"
            ]
            if cfg.label_smoothing
            else []
        )
        + (["on augmented images (random crops and flips, harder than the originals)"] if cfg.augment else [])
        + ([f"with dropout {cfg.dropout} active"] if cfg.dropout else [])
    )
    if not (cfg.label_smoothing or cfg.augment):
        return None
    return ("Training loss sits above validation loss because it is measured during training "
            + ", ".join(causes) + "; validation uses plain targets and images in eval mode.")


def seed_histories(out, script, key, run):
    """([history], [seed]) of this run, then the runs that differ from it only in seed under
    out's seeds/ and ablation/ folders, in seed order."""
    seeds = Results.of(out).same_but_seed(script, key, run.get("train_config") or {}, run.get("quick", False),
                                          (SEEDS_FOLDER, "ablation"))
    own = (run.get("train_config") or {}).get("seed", 0)
    order = [own] + [seed for seed in seeds if seed != own]
    found = {own: run, **{seed: other.run for seed, other in seeds.items() if seed != own}}
    return [found[seed]["history"] for seed in order], order


def draw_curves(out, script, key, run, quick):
    """A run's loss and accuracy figures (a band over its seeds where it has several);
    returns their names."""
    out = Results.of(out)
    histories, seeds = seed_histories(out, script, key, {**run, "quick": quick})
    names = []
    for metric, word, suffix in (("loss", "Loss", "loss"), ("acc", "Accuracy", "accuracy")):
        name = f"{figure_prefix(script, key)}_{suffix}.png"
        plot_curves(
            histories,
            run["best_val_epoch"],
            titled(f"{heading(script, key, run)}: {word}", quick, out),
            out.folder / name,
            metric,
            note=loss_note(config_of(run)) if metric == "loss" else None,
            seeds=seeds,
        )
        names.append(name)
    return names


def draw_steps(out, run, quick):
    """1.3.1: the baseline run's training loss and accuracy every 200 steps."""
    plot_steps(run["steps"], Results.of(out).folder / STEPS_FIGURE,
               titled(f"Question 1.3.1: the baseline's training, seed {config_of(run).seed}, logged every "
                      f"{run['steps'][0]['step']} steps", quick, out))
    return STEPS_FIGURE


def draw_samples(out, data, quick, indices=SAMPLE_INDICES):
    """1.1.1: four training images with their classes."""
    chosen = list(indices)  # a tensor indexed by a list of positions: no torch import here
    plot_samples(
        data.train_images[chosen],
        data.train_labels[chosen],
        Results.of(out).folder / SAMPLES_FIGURE,
        titled(f"Question 1.1.1: {COUNT_WORDS.get(len(indices), len(indices))} CIFAR-10 training images",
               quick, out),
    )
    return SAMPLES_FIGURE


def draw_predictions(out, data, predictions, best, quick):
    """1.3.6: the ten test images fed raw and normalized, from the probabilities the record holds."""
    images = data.test_images[predictions["indices"]]
    names = []
    for mode, word in (("raw", "without normalization"), ("normalized", "normalized")):
        r = predictions[mode]
        name = f"q1_3_6_predictions_{mode}.png"
        plot_predictions(images, predictions["true"], r["pred"], r["probs"], Results.of(out).folder / name,
                         titled(f"Question 1.3.6: dropout p = {best}, test images fed {word}: "
                                f"{r['accuracy']:.0f}% right", quick, out))
        names.append(name)
    return names


def draw_time(out, runs, quick):
    """1.3.7: every recipe's validation accuracy against its measured training minutes, with the
    report's validation accuracy at the student recipe's last epoch marked."""
    plot_accuracy_against_time(
        {RECIPE_NAMES[k]: (elapsed_minutes(run["history"]), run["history"]["val_acc"])
         for k, run in runs.items()},
        TARGET,
        f"{TARGET}%: the report's student recipe, validation accuracy in its last epoch",
        Results.of(out).folder / TIME_FIGURE,
        titled("Question 1.3.7: validation accuracy against training time", quick, out),
        "training minutes as each run measured them (its epoch times summed; each on its own machine)",
    )
    return TIME_FIGURE


def draw_seed_bands(out):
    """Redraw the curves of every run in out that has other seeds (as REPORT.md is rebuilt, so
    a new seed's run widens the band)."""
    out = Results.of(out)
    for script in ("q1_3_train", "q1_3_dropout", "q1_3_improve"):
        record = out.record(script)
        if not record:
            continue
        for key, run in runs_of(record).items():
            if len(seed_histories(out, script, key, {**run, "quick": record.get("quick")})[0]) > 1:
                draw_curves(out, script, key, run, record.get("quick"))


class NoData(Exception):
    """The images a figure shows cannot be read."""


def redraw_folder(folder, images, records=None):
    """Every figure the records in folder list (records: the redraw's Records, shared by its
    folders); returns (names drawn, [(figure, why not)])."""
    results = Results(folder, records=records)
    drawn, skipped = [], []
    for script in SCRIPTS:
        record = results.record(script)
        if not record:
            continue
        quick, listed = bool(record.get("quick")), set(record.get("figures") or [])
        for key, run in runs_of(record).items():
            if f"{figure_prefix(script, key)}_loss.png" in listed:  # the figures its script kept
                drawn += draw_curves(results, script, key, run, quick)
        wants_images = {"q1_1_data": [SAMPLES_FIGURE] if SAMPLES_FIGURE in listed else [],
                        "q1_3_dropout": [f for f in listed if f.startswith("q1_3_6_") and f.endswith(".png")]}
        if wants_images.get(script):
            try:
                data = images()
                if script == "q1_1_data":
                    drawn.append(
                        draw_samples(results, data, quick, record.get("sample_indices", SAMPLE_INDICES))
                    )
                else:
                    drawn += draw_predictions(
                        results, data, record["predictions"], f"{record['best_dropout']:g}", quick
                    )
            except NoData as why:
                skipped += [(name, str(why)) for name in wants_images[script]]
        baseline = runs_of(record).get("baseline") if script == "q1_3_train" else None
        if baseline and baseline.get("steps") and f"{figure_prefix(script, 'baseline')}_loss.png" in listed:
            drawn.append(draw_steps(results, baseline, quick))
        if script == "q1_3_improve" and TIME_FIGURE in listed:
            drawn.append(draw_time(results, runs_of(record), quick))
    drawn += [name for name in (draw_dropout_comparison(results), draw_confusion(results)) if name]
    return drawn, skipped


def result_folders(root):
    """root and every folder under it that holds a script's record, in name order."""
    root = Path(root)
    found = {path.parent for path in root.rglob("q1_*.json")}
    return sorted(found | ({root} if any(root.glob("q1_*.json")) else set()))


def redraw(root, data_dir=None, skip_checksum=False):
    """Redraw every figure under root; returns (figures drawn, [(path, why not drawn)],
    damaged records)."""
    cache = {}

    def images():
        if "data" not in cache:
            from ..data import load_cifar10  # torch, only when a figure shows images: --help stays quick
            try:
                cache["data"] = load_cifar10(data_dir, offline=True, skip_checksum=skip_checksum)
            except DataError as err:
                cache["data"] = NoData(f"the images come from the data, which could not be read: {err}")
        if isinstance(cache["data"], NoData):
            raise cache["data"]
        return cache["data"]

    drawn, skipped, damaged, records = 0, [], [], Records()
    for folder in result_folders(root):
        names, missing = redraw_folder(folder, images, records)
        drawn += len(names)
        skipped += [(folder / name, why) for name, why in missing]
        damaged += Results(folder, records=records).damaged()
    return drawn, skipped, damaged


def draw_dropout_comparison(out):
    """1.3.5's comparison figure from out's sweep: each p (and the baseline as p = 0, its
    settings said when they are not the sweep's) as the mean over its seeds, in a band
    from the lowest to the highest. Returns the figure's name, or None without a sweep."""
    out = Results.of(out)
    record = out.record("q1_3_dropout")
    sweep = (record or {}).get("runs") or {}
    if not sweep:
        return None
    seeds = out.seed_runs if not record.get("quick") else {}
    curves = {}
    baseline = runs_of(out.record("q1_3_train", record.get("quick")) or {}).get("baseline")
    if baseline:
        config = next(iter(sweep.values())).get("train_config") or {}
        other = [(k, v) for k, v in differences(baseline.get("train_config") or {}, config) if k != "dropout"]
        label = "p = 0 (baseline" + (f", trained with {', '.join(as_words(other))})" if other else ")")
        curves[label] = [each.run["history"] for each in seeds.get("baseline", [])] or [baseline["history"]]
    for p, run in sweep.items():
        curves[f"p = {p}"] = ([each.run["history"] for each in seeds.get(f"dropout {p}", [])]
                              or [run["history"]])
    title = titled("Question 1.3.5: validation accuracy and loss for each dropout p", record.get("quick"),
                   out)
    plot_comparison(curves, out.folder / DROPOUT_FIGURE, title)
    return DROPOUT_FIGURE


def draw_confusion(out):
    """The confusion figure, when some run kept its counts; returns its name, or None."""
    out = Results.of(out)
    found, _ = confusion_runs(out)
    if found:
        plot_confusion(
            {panel.title(): panel.counts for panel in found}, out.folder / CONFUSION_FIGURE,
            titled("Test-set confusion counts (rows: true class), summed over the seeds that kept them",
                   False, out),
        )
        return CONFUSION_FIGURE
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=cli.HelpFormatter)
    parser.add_argument("folder", nargs="?", default="figures", help="a results folder (the scripts' --out)")
    cli.add_data_flags(parser)
    args = parser.parse_args(argv)
    root = Path(args.folder)
    if not root.is_dir():
        sys.exit(
            f"error: {root} is not a folder; pass a results folder (the scripts' --out, figures/ by default)."
        )
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
