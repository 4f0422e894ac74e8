"""How far a number from one run can be trusted: the spread over seeds, and a verdict on a
claim that compares runs, from Welch's t-test (scipy's) at a stated level.

A verdict is one of HOLDS, FAILS (the data say the opposite), or UNSURE (these seeds
cannot tell: too few, or a spread too wide for the difference).
"""
import math
import statistics
import warnings
from dataclasses import dataclass

LEVEL = 0.05  # one-sided tests at 5%
MARGIN = 1.0  # "changes little": the two means within 1 percentage point of each other
HOLDS, FAILS, UNSURE = "holds", "does not hold", "cannot tell at this number of seeds"
RULE = (
    f"Welch's t-test on the seeds' values (`scipy.stats.ttest_ind`, `equal_var=False`), one-sided at "
    f"{LEVEL:.0%}: a claim that one run is higher holds when the test says so, does not hold when the "
    f"opposite test does, and cannot be told otherwise (or with fewer than 2 seeds of either run). A claim "
    f"that two runs differ little holds when both one-sided tests put the difference within ±{MARGIN:g} "
    f"point (TOST), and does not hold when the difference is significantly outside it. A claim about one "
    f"run's own change (the validation loss rising, normalized inputs beating raw ones on the same models) "
    f"uses the one-sample test on the per-seed changes (`scipy.stats.ttest_1samp`)."
)


def p_words(p):
    """"p = 0.002", or "p < 0.001": a test's p-value as REPORT.md writes it."""
    return f"p = {p:.3f}" if p >= 0.001 else "p < 0.001"


@dataclass
class Spread:
    values: list

    @property
    def n(self):
        return len(self.values)

    @property
    def mean(self):
        return statistics.mean(self.values)

    @property
    def std(self):
        """The sample standard deviation; None for a single value."""
        return statistics.stdev(self.values) if self.n > 1 else None

    @property
    def low(self):
        return min(self.values)

    @property
    def high(self):
        return max(self.values)

    def words(self, unit="", single="(1 seed)"):
        """"69.49% (68.84 to 70.23, 3 seeds)": the mean, then the lowest to the highest seed, as
        every table writes a spread over seeds; single: what follows the one value of one seed."""
        if self.n < 2:
            return f"{self.mean:.2f}{unit} {single}"
        return f"{self.mean:.2f}{unit} ({self.low:.2f} to {self.high:.2f}, {self.n} seeds)"

    def holds(self, value):
        """Whether value lies within the lowest and the highest of these seeds."""
        return self.low <= value <= self.high


def _p(test, *args, **kwargs):
    """The p-value of scipy's test on args, or None where it has none (values all equal: no
    spread to judge). scipy's warning about nearly equal values is what None says."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        p = float(test(*args, **kwargs).pvalue)
    return None if math.isnan(p) else p


def _one_sided(up, down, level):
    """The verdict from the p-values of "higher" (up) and "lower" (down), and the one behind it."""
    if up is None or down is None:
        return UNSURE, None
    if up < level:
        return HOLDS, up
    if down < level:
        return FAILS, down
    return UNSURE, up


def higher(a, b, level=LEVEL):
    """Verdict on "a is higher than b" from the two lists of per-seed values, and the
    one-sided p-value behind it (None when untested)."""
    if len(a) < 2 or len(b) < 2:
        return UNSURE, None
    from scipy.stats import ttest_ind
    return _one_sided(_p(ttest_ind, a, b, equal_var=False, alternative="greater"),
                      _p(ttest_ind, a, b, equal_var=False, alternative="less"), level)


def similar(a, b, margin=MARGIN, level=LEVEL):
    """Verdict on "a and b differ by less than margin" (two one-sided tests, TOST), and the
    larger of its two p-values."""
    if len(a) < 2 or len(b) < 2:
        return UNSURE, None
    from scipy.stats import ttest_ind
    above = _p(ttest_ind, [x + margin for x in a], b, equal_var=False, alternative="greater")
    below = _p(ttest_ind, [x - margin for x in a], b, equal_var=False, alternative="less")
    if above is None or below is None:
        return UNSURE, None
    if max(above, below) < level:
        return HOLDS, max(above, below)
    outside = min(_p(ttest_ind, [x - margin for x in a], b, equal_var=False, alternative="greater") or 1,
                  _p(ttest_ind, [x + margin for x in a], b, equal_var=False, alternative="less") or 1)
    if outside < level:
        return FAILS, outside
    return UNSURE, max(above, below)


def positive(changes, level=LEVEL):
    """Verdict on "the change is above 0" from per-seed changes (one-sample test)."""
    if len(changes) < 2:
        return UNSURE, None
    from scipy.stats import ttest_1samp
    return _one_sided(_p(ttest_1samp, changes, 0.0, alternative="greater"),
                      _p(ttest_1samp, changes, 0.0, alternative="less"), level)


def all_of(verdicts):
    """Several claims that must all hold: holds if each does, fails if any fails."""
    words = [v for v, _ in verdicts]
    if FAILS in words:
        return FAILS
    return HOLDS if all(w == HOLDS for w in words) else UNSURE
