"""Every figure comes back from its record in seconds, without training: the committed
figures are what their records say, a run's seeds are drawn as a band, and a damaged record
is named on the terminal and left as it is."""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from common.reporting import figures
from common.config import BASELINE, TrainConfig, as_dict
from conftest import REPO

COMMITTED = REPO / "figures"
# A PNG redrawn with the matplotlib that drew the committed one is byte-identical to it; the
# comparison tolerates a mean difference of at most 2 levels of 255 per channel over the same
# image size (a FreeType build may place a glyph a pixel apart). Another matplotlib version
# lays out legends and antialiases differently (3.7 against 3.11: about 5 levels), so figures
# are compared only with the version that drew them, which each PNG names in its metadata.
MEAN_LEVELS = 2.0


def drawn_with(path):
    """The "Software" a PNG names: matplotlib writes its own version there."""
    from PIL import Image
    with Image.open(path) as image:
        return image.info.get("Software", "")


def linked_figures(root):
    """Every PNG that a REPORT.md under root links, as paths."""
    found = set()
    for report in root.rglob("REPORT.md"):
        for name in re.findall(r"\]\(([^)]+\.png)\)", report.read_text()):
            found.add((report.parent / name).resolve())
    return sorted(found)


@pytest.fixture(scope="module")
def redrawn(tmp_path_factory, real_root):
    """A copy of figures/ without a single PNG, then `python -m common.figures` on it."""
    copy = tmp_path_factory.mktemp("redraw") / "figures"
    shutil.copytree(COMMITTED, copy, ignore=shutil.ignore_patterns("*.png"))
    result = subprocess.run([sys.executable, "-m", "common.figures", str(copy), "--data-dir", str(real_root),
                             "--skip-checksum"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return copy, result


@pytest.mark.e2e
def test_every_linked_figure_comes_back_without_training(redrawn):
    copy, result = redrawn
    linked = linked_figures(copy)
    assert len(linked) > 100  # figures/ and its seed, ablation and reading folders
    assert [p for p in linked if not p.is_file()] == []
    assert re.match(r"redrew \d+ figures under .* in [\d.]+ s", result.stdout)


@pytest.mark.e2e  # redraws every committed figure from the data (most of a minute): the end-to-end tier
def test_every_committed_figure_is_what_its_record_says(redrawn):
    import matplotlib
    from matplotlib.image import imread
    copy, _ = redrawn
    committed = sorted(COMMITTED.rglob("*.png"))
    assert committed
    here = f"Matplotlib version{matplotlib.__version__}"
    comparable = [path for path in committed if drawn_with(path).startswith(here)]
    if not comparable:
        pytest.skip(
            f"the committed figures were drawn with {drawn_with(committed[0]).split(',')[0]}, this is "
            f"{here}: their pixels are compared only with the matplotlib that drew them"
        )
    far = []
    for path in comparable:
        again = copy / path.relative_to(COMMITTED)
        assert again.is_file(), f"{path} is committed but no record draws it"
        a, b = imread(path), imread(again)
        if a.shape != b.shape or np.abs(a - b).mean() * 255 > MEAN_LEVELS:
            far.append(str(path.relative_to(COMMITTED)))
    assert far == [], "committed figures that their records no longer draw: run python -m common.figures"


def _run(seed, val_acc, **settings):
    history = {"epoch": [1, 2, 3], "train_loss": [1.5, 1.0, 0.5], "train_acc": [50, 70, 90],
               "val_loss": [1.2, 1.0, 1.1], "val_acc": val_acc, "lr": [0.001] * 3, "seconds": [60] * 3}
    return {
        "history": history,
        "train_config": as_dict(TrainConfig(**BASELINE, seed=seed, **settings)),
        "final_test_acc": 70.0,
        "final_val_acc": val_acc[-1],
        "best_val_acc": max(val_acc),
        "best_val_epoch": 1 + val_acc.index(max(val_acc)),
        "figures": ["q1_3_4_loss.png", "q1_3_4_accuracy.png"],
    }


def _write(folder, run):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "q1_3_train.json").write_text(json.dumps({"quick": False, "config": {}, "env": {}, **run}))


def test_a_run_with_seeds_is_drawn_as_their_band(tmp_path, monkeypatch):
    _write(tmp_path, _run(0, [60, 65, 64]))
    _write(tmp_path / "seeds" / "baseline_seed1", _run(1, [61, 64, 67]))
    _write(tmp_path / "seeds" / "baseline_seed2", _run(2, [59, 66, 66]))
    _write(tmp_path / "seeds" / "baseline_lr", _run(3, [10, 10, 10], lr=0.1))  # other settings: not a seed
    drawn = []
    monkeypatch.setattr(
        "common.reporting.figures.plot_curves",
        lambda histories, best, title, path, metric, note=None, seeds=None: drawn.append(
            ([h["val_acc"] for h in histories], best, seeds, Path(path).name)
        ),
    )
    figures.draw_seed_bands(tmp_path)
    # Three seeds (the lr 0.1 run is not one), the folder's own run first: its line, its best
    # epoch (2, as its table says; the mean's would be 3), the band over all three.
    own_first = [[60, 65, 64], [61, 64, 67], [59, 66, 66]]
    assert drawn == [(own_first, 2, [0, 1, 2], "q1_3_4_loss.png"),
                     (own_first, 2, [0, 1, 2], "q1_3_4_accuracy.png")]
    drawn.clear()
    figures.redraw_folder(tmp_path / "seeds" / "baseline_seed1", lambda: None)  # one seed's own folder
    assert drawn == [([[61, 64, 67]], 3, [1], "q1_3_4_loss.png"),
                     ([[61, 64, 67]], 3, [1], "q1_3_4_accuracy.png")]


@pytest.mark.e2e
def test_a_damaged_record_is_named_on_stderr_and_left_as_it_is(tmp_path):
    _write(tmp_path, _run(0, [60, 65, 64]))
    damaged = tmp_path / "q1_3_dropout.json"
    damaged.write_text('{"runs": {"0.2": ')  # cut off mid-write
    for command in (["-m", "common.figures", str(tmp_path)], ["-m", "common.report", str(tmp_path)]):
        result = subprocess.run(
            [sys.executable, *command], cwd=REPO, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 1
        assert f"{damaged} is damaged or unreadable" in result.stderr
        assert f"python q1_3_dropout.py --out {tmp_path}" in result.stderr
        assert damaged.read_text() == '{"runs": {"0.2": '
    assert (tmp_path / "q1_3_4_loss.png").is_file()  # the rest was redrawn
    # REPORT.md says it in the same words where the record's section would be.
    assert f"> {damaged} is damaged or unreadable" in (tmp_path / "REPORT.md").read_text()


@pytest.mark.e2e
def test_figures_that_need_the_data_say_so_when_it_is_missing(tmp_path):
    record = {"quick": False, "config": {}, "env": {}, "figures": [figures.SAMPLES_FIGURE]}
    (tmp_path / "q1_1_data.json").write_text(json.dumps(record))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "common.figures",
            str(tmp_path),
            "--data-dir",
            str(tmp_path / "nothing"),
            "--offline",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    assert f"not redrawn: {tmp_path / figures.SAMPLES_FIGURE}: the images come from the data" in result.stderr
    assert "CIFAR-10 not found" in result.stderr
