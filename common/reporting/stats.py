"""How far a number from one run can be trusted: the spread over seeds, whether the report's
one run agrees with this package's seeds (a prediction interval for one more run), and a
verdict on a claim that compares runs, from Welch's t-test (scipy's) at a stated level.

A verdict is one of HOLDS, FAILS (the data say the opposite), or UNSURE (these seeds
cannot tell: too few, or a spread too wide for the difference).
"""
import functools
import math
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
        return math.fsum(self.values) / self.n

    @property
    def std(self):
        """The sample standard deviation; None for a single value. Summed with math.fsum (as
        statistics.fmean does): statistics.stdev's exact fractions cost the coverage simulation
        a minute for no digit that a page shows."""
        if self.n < 2:
            return None
        mean = self.mean
        return math.sqrt(math.fsum((x - mean) ** 2 for x in self.values) / (self.n - 1))

    @property
    def low(self):
        return min(self.values)

    @property
    def high(self):
        return max(self.values)

    def words(self, unit="", single="(1 seed)"):
        """"69.49% (68.84 to 70.23, 3 seeds)": the mean, then the lowest to the highest seed, as the
        grading, seeds and readings tables and README write a spread over seeds (the ablation tables
        list each seed's value: ablation._accuracies_words); single: what follows one seed's value."""
        if self.n < 2:
            return f"{self.mean:.2f}{unit} {single}"
        return f"{self.mean:.2f}{unit} ({self.low:.2f} to {self.high:.2f}, {self.n} seeds)"


# The one rule for "does the report's value agree with this package's seeds": the report's value
# is one run, so it is judged against where one more run of the package would fall.
COVERAGE = 0.95
WITHIN, CANNOT_TELL = "within seed noise", "cannot tell at {n} seeds"
AGREEMENT_RULE = (
    f"the report's value is one run, so it is set against the {COVERAGE:.0%} prediction interval for one "
    f"more run of this package: mean ± t × s × √(1 + 1/n), from the n seeds the value has (s their sample "
    f"standard deviation, t Student's {1 - (1 - COVERAGE) / 2:.3g} quantile with n − 1 degrees of freedom: "
    f"at 3 seeds the mean ± {{k3:.2f}} s). Outside it, the package is *higher* or *lower* (a run of the "
    f"package itself falls outside {1 - COVERAGE:.0%} of the time: `tests/test_verdicts.py` checks it by "
    f"simulation). Inside it, the value is *within seed noise* where it also lies within the mean "
    f"± {{z:.2f}} s that many seeds of the same spread would give, and otherwise *cannot tell at n "
    f"seeds*, with the number of seeds at which it would lie outside if the mean and spread held"
)


@functools.lru_cache(maxsize=None)
def _t_quantile(dof, coverage=COVERAGE):
    from scipy.stats import t
    return float(t.ppf(1 - (1 - coverage) / 2, dof))


def interval_factor(n, coverage=COVERAGE):
    """The prediction interval's half-width in sample standard deviations at n seeds."""
    return _t_quantile(n - 1, coverage) * math.sqrt(1 + 1 / n)


def agreement_rule():
    return AGREEMENT_RULE.format(k3=interval_factor(3), z=_normal_quantile())


@functools.lru_cache(maxsize=None)
def _normal_quantile(coverage=COVERAGE):
    from scipy.stats import norm
    return float(norm.ppf(1 - (1 - coverage) / 2))


@dataclass(frozen=True)
class Agreement:
    """Where the report's value lies against the seeds: the prediction interval (low, high) for
    one more run, the verdict, and (for "cannot tell") the seeds that would tell."""
    value: float
    spread: Spread
    low: float
    high: float
    verdict: str
    seeds_to_tell: int | None = None

    @property
    def inside(self):
        return self.low <= self.value <= self.high

    def words(self):
        """"within seed noise (95% interval 68.2 to 70.8)", "package lower (report outside the 95%
        interval 78.9 to 80.0)", "cannot tell at 3 seeds (95% interval ...; 6 would tell)"."""
        interval = f"{COVERAGE:.0%} interval {self.low:.2f} to {self.high:.2f}"
        if not self.inside:
            return f"{self.verdict} (report outside the {interval})"
        if self.seeds_to_tell:
            return f"{self.verdict} ({interval}; {self.seeds_to_tell} seeds would tell if the spread held)"
        return f"{self.verdict} ({interval})"


def agreement(value, values, coverage=COVERAGE, most_seeds=1000):
    """The report's value against these seeds' values (AGREEMENT_RULE); None with fewer than 2
    seeds or no spread."""
    spread = Spread(list(values))
    if spread.n < 2 or not spread.std:
        return None
    half = interval_factor(spread.n, coverage) * spread.std
    low, high = spread.mean - half, spread.mean + half
    gap = abs(value - spread.mean)
    if not low <= value <= high:
        side = "lower" if spread.mean < value else "higher"
        return Agreement(value, spread, low, high, f"package {side}")
    if gap <= _normal_quantile(coverage) * spread.std:
        return Agreement(value, spread, low, high, WITHIN)
    tell = next((n for n in range(spread.n + 1, most_seeds + 1)
                 if interval_factor(n, coverage) * spread.std < gap), None)
    return Agreement(value, spread, low, high, CANNOT_TELL.format(n=spread.n), tell)


def _p_value(test, *args, **kwargs):
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
    return _one_sided(_p_value(ttest_ind, a, b, equal_var=False, alternative="greater"),
                      _p_value(ttest_ind, a, b, equal_var=False, alternative="less"), level)


def similar(a, b, margin=MARGIN, level=LEVEL):
    """Verdict on "a and b differ by less than margin" (two one-sided tests, TOST), and the
    larger of its two p-values."""
    if len(a) < 2 or len(b) < 2:
        return UNSURE, None
    from scipy.stats import ttest_ind
    above = _p_value(ttest_ind, [x + margin for x in a], b, equal_var=False, alternative="greater")
    below = _p_value(ttest_ind, [x - margin for x in a], b, equal_var=False, alternative="less")
    if above is None or below is None:
        return UNSURE, None
    if max(above, below) < level:
        return HOLDS, max(above, below)
    outside = min(
        _p_value(ttest_ind, [x - margin for x in a], b, equal_var=False, alternative="greater") or 1,
        _p_value(ttest_ind, [x + margin for x in a], b, equal_var=False, alternative="less") or 1)
    if outside < level:
        return FAILS, outside
    return UNSURE, max(above, below)


def positive(changes, level=LEVEL):
    """Verdict on "the change is above 0" from per-seed changes (one-sample test)."""
    if len(changes) < 2:
        return UNSURE, None
    from scipy.stats import ttest_1samp
    return _one_sided(_p_value(ttest_1samp, changes, 0.0, alternative="greater"),
                      _p_value(ttest_1samp, changes, 0.0, alternative="less"), level)


def all_of(verdicts):
    """Several claims that must all hold: holds if each does, fails if any fails."""
    words = [v for v, _ in verdicts]
    if FAILS in words:
        return FAILS
    return HOLDS if all(w == HOLDS for w in words) else UNSURE
