"""The figures a grader reads: whole-number epochs, plain numbers, the note on regularized loss."""
import pytest

from common.reporting import figures as plots
from common.config import BEST, TrainConfig
from common.reporting.figures import loss_note

# A smoke run's loss barely moves: matplotlib would write it as 0.0005 + 2.301.
FLAT = {"epoch": [1, 2, 3, 4], "train_loss": [2.3019, 2.3016, 2.3013, 2.3011],
        "val_loss": [2.3018, 2.3015, 2.3014, 2.3012], "train_acc": [10.1, 10.3, 10.2, 10.4],
        "val_acc": [9.8, 10.0, 10.2, 10.2]}


@pytest.fixture
def drawn(monkeypatch):
    """The figures the plot functions would save, left open to inspect."""
    figures = []
    monkeypatch.setattr(plots, "_save", lambda fig, path, rect=None: figures.append(fig))
    yield figures
    for fig in figures:
        plots._pyplot().close(fig)


def axes_of(figures):
    for fig in figures:
        fig.canvas.draw()
        yield from fig.axes


@pytest.mark.parametrize("draw", [
    lambda: plots.plot_curves(FLAT, 4, "loss", "x.png", "loss"),
    lambda: plots.plot_curves(FLAT, 4, "accuracy", "x.png", "acc"),
    lambda: plots.plot_comparison({"p = 0.2": FLAT, "p = 0.5": FLAT}, "x.png", "sweep"),
])
def test_per_epoch_axes_show_whole_epochs_and_no_offset(drawn, draw):
    draw()
    for ax in axes_of(drawn):
        low, high = ax.get_xlim()
        ticks = [t for t in ax.get_xticks() if low <= t <= high]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
        assert ax.yaxis.get_major_formatter().get_offset() == ""


def test_the_best_recipes_loss_figure_says_why_training_loss_is_higher(drawn):
    note = loss_note(TrainConfig(**BEST))
    assert "label-smoothed" in note and "augmented" in note
    plots.plot_curves(FLAT, 4, "loss", "x.png", "loss", note=note)
    assert any("label-smoothed" in text.get_text() for text in drawn[0].texts)
    assert loss_note(TrainConfig()) is None  # the report's plain runs need no note
