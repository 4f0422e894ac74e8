"""Every figure reads at a glance: no text runs off the canvas or over another text, a title
breaks between phrases, a legend says a note once, and pictures are drawn as pixels.

Each plot function the package draws with is drawn here with inputs as crowded as the real
ones (twenty epochs, three seeds, long titles, four-digit counts), laid out as it is saved."""
import contextlib
import inspect
import itertools

import matplotlib
import pytest
import torch

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from common.reporting import figures as plots  # noqa: E402


def history(shift=0.0, epochs=20):
    return {"epoch": list(range(1, epochs + 1)),
            "train_loss": [2.3 / (e + shift) for e in range(1, epochs + 1)],
            "val_loss": [1.0 + abs(e - 8) / 10 + shift for e in range(1, epochs + 1)],
            "train_acc": [min(99.0, 20 + 4 * e + shift) for e in range(1, epochs + 1)],
            "val_acc": [min(75.0, 30 + 3 * e - shift) for e in range(1, epochs + 1)]}


SEEDS = [history(0.0), history(0.3), history(0.6)]
LONG_TITLE = ("Question 1.3.4: baseline ConvNet (lr 0.001, momentum 0.9, batch 32, dropout 0.0): Loss "
              "(the course sheet's reading) [QUICK]")
COUNTS = [[1500 if i == j else 37 + i + j for j in range(10)] for i in range(10)]
IMAGES = torch.randint(0, 256, (10, 3, 32, 32), dtype=torch.uint8)
STEPS = [{"epoch": 1 + s // 7, "step": 200 * (s + 1), "loss": 2.3 / (1 + s / 10), "acc": 10 + s / 2}
         for s in range(140)]

NOTE = plots.loss_note(plots.config_of({"train_config": {"label_smoothing": 0.2, "augment": True,
                                                         "dropout": 0.5}}))

DRAWINGS = {
    "plot_samples": lambda path: plots.plot_samples(IMAGES[:4], [0, 1, 2, 3], path,
                                                    "Question 1.1.1: four CIFAR-10 training images"),
    "plot_curves": lambda path: plots.plot_curves(SEEDS, 10, LONG_TITLE, path, "loss", note=NOTE,
                                                  seeds=[0, 1, 2]),
    "plot_comparison": lambda path: plots.plot_comparison(
        {"p = 0 (baseline)": SEEDS, "p = 0.2": SEEDS, "p = 0.5": SEEDS, "p = 0.8": SEEDS}, path,
        "Question 1.3.5: validation accuracy and loss for each dropout p (the course sheet's reading)"),
    "plot_confusion": lambda path: plots.plot_confusion(
        {f"1.3.5 dropout p = 0.5 (the best by validation)\nseeds 1 and 2 summed: {k}0.00% right": COUNTS
         for k in range(4)}, path,
        "Test-set confusion counts (rows: true class), summed over the seeds that kept them"),
    "plot_predictions": lambda path: plots.plot_predictions(
        IMAGES, list(range(10)), [9 - i for i in range(10)], [[0.1] * 10] * 10, path,
        "Question 1.3.6: dropout p = 0.5, test images fed without normalization: 40% right"),
    "plot_accuracy_against_time": lambda path: plots.plot_accuracy_against_time(
        {name: ([2.0 * e for e in range(1, 21)], history(k)["val_acc"])
         for k, name in enumerate(("student recipe", "bn_onecycle recipe", "best recipe"))},
        80.3, "80.3%: the report's student recipe, validation accuracy in its last epoch", path,
        "Question 1.3.7: validation accuracy against training time",
        "training minutes as each run measured them (its epoch times summed; each on its own machine)"),
    "plot_steps": lambda path: plots.plot_steps(
        STEPS, path, "Question 1.3.1: the baseline's training, seed 0, logged every 200 steps"),
}


@pytest.fixture
def saved(monkeypatch):
    """The figures as savefig got them: laid out, not written."""
    figures = []
    monkeypatch.setattr(Figure, "savefig", lambda fig, *args, **kwargs: figures.append(fig))
    monkeypatch.setattr(plots, "replaced_atomically", contextlib.nullcontext)
    monkeypatch.setattr(plots._pyplot(), "close", lambda fig: None)
    yield figures
    for fig in figures:
        matplotlib.pyplot.close(fig)


def undrawn_tick_labels(fig):
    """The labels of ticks outside their axis's view, and of axes turned off: matplotlib keeps
    them but does not draw them."""
    hidden = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            if not ax.axison:  # ax.axis("off"): no ticks, no axis labels drawn
                hidden.update(id(t) for t in axis.findobj(Text))
                continue
            low, high = sorted(axis.get_view_interval())
            margin = (high - low) * 1e-9
            for ticks, locations in ((axis.get_major_ticks(), axis.get_majorticklocs()),
                                     (axis.get_minor_ticks(), axis.get_minorticklocs())):
                for tick, at in zip(ticks, locations):
                    if not low - margin <= at <= high + margin:
                        hidden.update((id(tick.label1), id(tick.label2)))
    return hidden


def texts(fig):
    """(text, its box on the canvas) of every text the saved figure shows."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    hidden = undrawn_tick_labels(fig)
    return [(t.get_text(), t.get_window_extent(renderer)) for t in fig.findobj(Text)
            if t.get_visible() and t.get_text().strip() and id(t) not in hidden]


def test_every_plot_function_is_drawn_here():
    made = {name for name, f in inspect.getmembers(plots, inspect.isfunction)
            if name.startswith("plot_") and f.__module__ == plots.__name__}
    assert made == set(DRAWINGS)


@pytest.mark.parametrize("name", sorted(DRAWINGS))
def test_no_text_is_clipped_or_overlaps_another(saved, name, tmp_path):
    DRAWINGS[name](tmp_path / "figure.png")
    (fig,) = saved
    found = texts(fig)
    canvas = fig.bbox
    for text, box in found:
        assert (box.x0 >= canvas.x0 - 0.5 and box.y0 >= canvas.y0 - 0.5 and box.x1 <= canvas.x1 + 0.5
                and box.y1 <= canvas.y1 + 0.5), f"{name}: {text!r} runs off the canvas"
    for (a, box_a), (b, box_b) in itertools.combinations(found, 2):
        overlap_x = min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0)
        overlap_y = min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0)
        assert overlap_x <= 1 or overlap_y <= 1, f"{name}: {a!r} overlaps {b!r}"


def test_the_checks_catch_a_title_that_runs_off_and_texts_on_top_of_each_other(saved):
    fig = matplotlib.pyplot.figure(figsize=(3, 2))
    fig.text(0.5, 0.5, "a title far too long for so small a figure, running off both sides")
    fig.text(0.1, 0.1, "one")
    fig.text(0.11, 0.1, "two")
    found = texts(fig)
    off = [t for t, box in found if box.x0 < fig.bbox.x0 or box.x1 > fig.bbox.x1]
    assert off == ["a title far too long for so small a figure, running off both sides"]
    (_, one), (_, two) = [(t, b) for t, b in found if t in ("one", "two")]
    assert one.overlaps(two)
    matplotlib.pyplot.close(fig)


def test_a_long_title_breaks_after_a_phrase_not_inside_one():
    title = plots._wrapped(LONG_TITLE, 70)
    first, *rest = title.split("\n")
    assert first.endswith(("(lr 0.001, momentum 0.9, batch 32,", ":", ",")) and len(first) <= 70
    assert " ".join([first, *rest]).replace("  ", " ") == LONG_TITLE


def test_a_band_note_is_said_once_in_the_legend(saved, tmp_path):
    DRAWINGS["plot_comparison"](tmp_path / "figure.png")
    (fig,) = saved
    words = [t for t, _ in texts(fig)]
    assert sum("band" in t for t in words) == 2  # one legend title on each of the two panels
    assert all("band" not in t for t in words if t.startswith("p = "))


def test_the_curves_say_which_seed_the_line_is_and_mark_its_own_best_epoch(saved, tmp_path):
    DRAWINGS["plot_curves"](tmp_path / "figure.png")
    (fig,) = saved
    words = [t for t, _ in texts(fig)]
    assert "training (seed 0)" in words and "best validation accuracy of seed 0 (epoch 10)" in words
    assert "bands: seeds 0, 1 and 2, lowest to highest" in words


def test_sample_images_are_drawn_as_pixels(saved, tmp_path):
    DRAWINGS["plot_samples"](tmp_path / "figure.png")
    (fig,) = saved
    for ax, image in zip(fig.axes, IMAGES[:4]):
        (drawn,) = ax.get_images()
        assert drawn.get_interpolation() == "nearest"
        pixels = drawn.get_array()
        assert pixels.shape == (256, 256, 3)  # each pixel an 8 x 8 block: no resampling can blur it
        assert (pixels[::8, ::8] == image.permute(1, 2, 0).numpy()).all()
