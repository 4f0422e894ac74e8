"""Every value the package holds as the report's is the report's: each is found, in the words
REPORT.md shows, in the sentence of ../shared/seed/assignment2_report.txt it is read from."""
import re

import pytest

from common.config import REPO, REPORT, REPORT_WORDS

REPORT_TEXT = REPO.parent / "shared" / "seed" / "assignment2_report.txt"


def leaves(tree, prefix=""):
    """{"baseline/final_test_acc": 70.42, ...}: REPORT's values by their path."""
    found = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            found.update(leaves(value, f"{prefix}{key}/"))
        else:
            found[f"{prefix}{key}"] = value
    return found


def numbers_as_written(words, counts=False):
    """The numbers in the report's way of writing them: "1.", "-2.e^{-04}", "70.8%", and for
    counts (whole numbers) "50.000", whose point separates thousands."""
    plain = words.replace("^{", "").replace("}", "").replace("e + ", "e+")
    found = []
    for token in re.findall(r"-?\d+(?:\.\d*)?(?:e[+-]?\d+)?", plain):
        if counts and re.fullmatch(r"\d{1,3}(\.\d{3})+", token):
            token = token.replace(".", "")
        found.append(float(token))
    return found


def test_every_value_credited_to_the_report_has_its_words():
    assert set(leaves(REPORT)) == set(REPORT_WORDS)


@pytest.mark.parametrize("key", sorted(REPORT_WORDS))
def test_the_report_writes_each_value_in_the_words_shown(key):
    if not REPORT_TEXT.is_file():
        pytest.skip(f"{REPORT_TEXT} is not here: the report's text comes with ../shared beside the clone")
    text = " ".join(REPORT_TEXT.read_text().split())
    shown, sentence = REPORT_WORDS[key]
    assert sentence in text, f"the report has no sentence {sentence!r}"
    assert shown in sentence, f"{shown!r} is not in the sentence it is read from"
    value = leaves(REPORT)[key]
    expected = value if isinstance(value, list) else [value]
    counts = all(isinstance(v, int) for v in expected)
    assert numbers_as_written(shown, counts) == pytest.approx(expected), (key, shown)


def test_the_number_reader_reads_the_reports_ways_of_writing():
    assert numbers_as_written("50.000", counts=True) == [50000.0]
    assert numbers_as_written("50.000") == [50.0]
    assert numbers_as_written("-0.e + 00, -2.e^{-04}, 1.e^{-04}") == pytest.approx([0.0, -2e-4, 1e-4])
    assert numbers_as_written("1., 1.002, 1.002") == [1.0, 1.002, 1.002]
    assert numbers_as_written("70.8%") == [70.8]
