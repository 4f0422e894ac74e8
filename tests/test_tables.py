"""Every Markdown table the package writes is well-formed in every state (no results, some,
quick, full): the header, the delimiter row and every row have the same number of cells,
which is what GitHub's renderer needs to draw a table."""
import json
import shutil

import pytest

from common.reporting.readme import BLOCKS, markers, refresh
from common.reporting.page import build_report, probability_table
from common.reporting.timing import times_table
from conftest import REPO
from test_report import common, run, write

FIGURES = REPO / "figures"


def tables(text):
    """Each table in Markdown text: its lines (consecutive lines starting with '|')."""
    found, block = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            block.append(line)
        elif block:
            found.append(block)
            block = []
    return found


def cells(line):
    inner = line.strip()
    assert inner.startswith("|") and inner.endswith("|"), f"a table row must start and end with '|': {line!r}"
    return inner[1:-1].split(" | ") if "---" not in inner else inner[1:-1].split("|")


def assert_well_formed(text, where):
    for table in tables(text):
        assert len(table) >= 2, f"{where}: a table without a delimiter row: {table[0]}"
        width = len(cells(table[0]))
        assert all(set(c) <= set("-:") and c for c in cells(table[1])), (
            f"{where}: not a delimiter row: {table[1]}"
        )
        for line in table[1:]:
            assert len(cells(line)) == width, (
                f"{where}: {len(cells(line))} cells against the header's {width}: {line}"
            )


def test_the_committed_pages_are_well_formed():
    for path in [REPO / "README.md", REPO / "docs" / "recipe.md", *FIGURES.rglob("*.md")]:
        assert_well_formed(path.read_text(), path)


def test_the_report_is_well_formed_with_no_results(tmp_path):
    assert_well_formed(build_report(tmp_path), "no results")
    assert_well_formed("\n".join(times_table(tmp_path)), "times, no results")


def test_the_report_is_well_formed_with_some_results_quick_or_full(tmp_path):
    for quick in (True, False):
        write(tmp_path, "q1_3_train", {**common(quick), **run(70.0)})
        (tmp_path / "seeds").mkdir(exist_ok=True)
        assert_well_formed(build_report(tmp_path), f"some results, quick {quick}")
        assert_well_formed("\n".join(times_table(tmp_path)), f"times, quick {quick}")


def test_the_generated_blocks_are_well_formed_in_every_state(tmp_path):
    page = tmp_path / "README.md"
    page.write_text("\n".join(line for name in BLOCKS for line in (*markers(name), "")))
    for state in ("empty", "some", "full"):
        out = tmp_path / state
        out.mkdir()
        if state == "some":
            write(out, "q1_3_train", {**common(), **run(70.0)})
        if state == "full":
            out = FIGURES
        refresh(page, out)
        assert_well_formed(page.read_text(), f"blocks, {state}")


def test_the_probability_table_is_well_formed_quick_or_full():
    record = json.loads((FIGURES / "q1_3_dropout.json").read_text())
    for quick in (True, False):
        text = probability_table(record["predictions"], record["best_dropout"], quick=quick)
        assert_well_formed(text, "probabilities")
        assert ("QUICK" in text) == quick


def test_a_smoke_record_is_marked_quick_in_every_section(tmp_path):
    shutil.copy(FIGURES / "q1_3_dropout.json", tmp_path)
    record = json.loads((tmp_path / "q1_3_dropout.json").read_text())
    (tmp_path / "q1_3_dropout.json").write_text(json.dumps({**record, "quick": True}))
    text = build_report(tmp_path)
    sections = text.split("\n## ")
    for heading in ("1.3.5 Dropout", "1.3.6 The best model"):
        section = next(s for s in sections if s.startswith(heading))
        assert "QUICK smoke run" in section, heading


@pytest.mark.parametrize("value,digits,shown", [(44.0, 2, "44.00"), (41.6, 2, "41.60"), (1.0, 4, "1.0000"),
                                                (2168362, 0, "2,168,362")])
def test_one_number_format_per_kind_of_quantity(value, digits, shown):
    from common.reporting.page import _num
    assert _num(value, digits) == shown


def test_a_difference_in_counts_is_written_with_separators():
    from common.reporting.page import _row
    assert _row("training images", 49_000, "train_images", 0).endswith("| 50.000 | -1,000 |")
