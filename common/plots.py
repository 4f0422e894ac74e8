"""The report's figures, drawn with matplotlib's file-only backend."""
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from .data import CLASSES  # noqa: E402
from .files import replaced_atomically  # noqa: E402

RIGHT, WRONG = "green", "red"


def _save(fig, path, rect=(0, 0, 1, 1)):
    fig.tight_layout(rect=rect)
    try:
        with replaced_atomically(path) as tmp:
            fig.savefig(tmp, dpi=110)
    finally:
        plt.close(fig)


def _per_epoch_axes(ax):
    """Whole-number epochs on x, and plain numbers on y: a loss of 2.302 is not 0.001 + 2.301."""
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.ticklabel_format(axis="y", useOffset=False, style="plain")
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3)


def plot_samples(images, labels, path, title="CIFAR-10 training images"):
    """1.1.1: a few uint8 3x32x32 images, enlarged, each titled with its class."""
    fig, axes = plt.subplots(1, len(images), figsize=(2.2 * len(images), 2.6))
    for ax, image, label in zip(axes, images, labels):
        ax.imshow(image.permute(1, 2, 0).numpy(), interpolation="nearest")
        ax.set_title(CLASSES[int(label)])
        ax.axis("off")
    fig.suptitle(title)
    _save(fig, path)


def plot_curves(histories, best_epoch, title, path, metric, note=None):
    """Figures 2-9, 14-15: training and validation loss ("loss") or accuracy ("acc") per epoch;
    note, if given, is printed under the plot. Given several histories (one run's seeds), each
    curve is their mean in a band from the lowest to the highest seed, and best_epoch is the
    epoch of the best mean validation accuracy."""
    histories = histories if isinstance(histories, list) else [histories]
    n = len(histories)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    epochs = histories[0]["epoch"]
    for key, style, label in ((f"train_{metric}", "o-", "training"), (f"val_{metric}", "s-", "validation")):
        per_epoch = list(zip(*(h[key] for h in histories)))
        line, = ax.plot(epochs[:len(per_epoch)], [sum(v) / n for v in per_epoch], style, ms=3,
                        label=label + (f" (mean of {n} seeds; band: lowest to highest)" if n > 1 else ""))
        if n > 1:
            ax.fill_between(epochs[:len(per_epoch)], [min(v) for v in per_epoch], [max(v) for v in per_epoch],
                            color=line.get_color(), alpha=0.2, linewidth=0)
    ax.axvline(best_epoch, color="grey", ls="--", lw=1,
               label=f"best {'mean ' if n > 1 else ''}validation accuracy (epoch {best_epoch})")
    _per_epoch_axes(ax)
    ax.set_ylabel("cross-entropy loss" if metric == "loss" else "accuracy (%)")
    ax.legend(fontsize=8 if n > 1 else None)
    ax.set_title("\n".join(textwrap.wrap(title, 70)), fontsize=10)
    lines = textwrap.wrap(note or "", 95, break_on_hyphens=False)
    if lines:
        fig.text(0.5, 0.01, "\n".join(lines), ha="center", va="bottom", fontsize=8)
    _save(fig, path, rect=(0, 0.045 * len(lines), 1, 1))


def plot_comparison(runs, path, title):
    """1.3.5: validation accuracy and loss per epoch, one line per dropout p. A run given as
    a list of histories (its seeds) is drawn as their mean, in a band from the lowest to the
    highest seed."""
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(11, 4.2))
    for label, histories in runs.items():
        histories = histories if isinstance(histories, list) else [histories]
        epochs = histories[0]["epoch"]
        n = len(histories)
        for ax, key in ((ax_acc, "val_acc"), (ax_loss, "val_loss")):
            per_epoch = list(zip(*(h[key] for h in histories)))
            mean = [sum(v) / n for v in per_epoch]
            line, = ax.plot(epochs[:len(mean)], mean, "o-", ms=3,
                            label=label + (f" (mean of {n} seeds; band: lowest to highest)" if n > 1 else ""))
            if n > 1:
                ax.fill_between(epochs[:len(mean)], [min(v) for v in per_epoch], [max(v) for v in per_epoch],
                                color=line.get_color(), alpha=0.2, linewidth=0)
    for ax, ylabel in ((ax_acc, "validation accuracy (%)"), (ax_loss, "validation loss")):
        _per_epoch_axes(ax)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=11)
    _save(fig, path)


def plot_confusion(matrices, path, title):
    """Test-set confusion counts, one panel per run: rows the true class (its accuracy in
    the label), columns the predicted one, each row shaded by its share."""
    fig, axes = plt.subplots(1, len(matrices), figsize=(5.2 * len(matrices), 5.4), squeeze=False)
    for ax, (label, counts) in zip(axes.flat, matrices.items()):
        shares = [[c / max(sum(row), 1) for c in row] for row in counts]
        ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
        for i, row in enumerate(counts):
            for j, c in enumerate(row):
                ax.text(j, i, str(c), ha="center", va="center", fontsize=6.5,
                        color="white" if shares[i][j] > 0.5 else "black")
        ax.set_xticks(range(len(CLASSES)), CLASSES, rotation=60, fontsize=7)
        ax.set_yticks(range(len(CLASSES)), [f"{name} {100 * shares[i][i]:.0f}%" for i, name in enumerate(CLASSES)],
                      fontsize=7)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class (its accuracy)")
        ax.set_title("\n".join(textwrap.wrap(label, 48)), fontsize=9)
    fig.suptitle(title, fontsize=11)
    _save(fig, path)


def prediction_colour(true, pred):
    return RIGHT if int(true) == int(pred) else WRONG


def plot_predictions(images, true, pred, probs, path, title):
    """Figures 10-13: images titled true / predicted (probability), green if right, red if wrong."""
    n = len(images)
    cols = 5
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(2.4 * cols, 3.2 * rows), squeeze=False)
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
    fig, ax = plt.subplots(figsize=(7.2, 4.6))
    for label, (minutes, accuracies) in runs.items():
        ax.plot(minutes, accuracies, "o-", ms=3, label=label)
    ax.axhline(target, color="grey", ls="--", lw=1, label=target_label)
    ax.set_xlabel("\n".join(textwrap.wrap(xlabel, 90)), fontsize=8)
    ax.set_ylabel("validation accuracy (%)")
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title, fontsize=10)
    _save(fig, path)
