"""How long the runs take: when each 1.3.7 recipe first reaches the student's mark, the
bench's speeds, and the table of each question's time (REPORT.md's and README's)."""
import statistics
from typing import NamedTuple

from ..config import CIFAR_TRAIN_IMAGES, COMMANDS, RECIPES, REPORT, RUN, TrainConfig, differences
from ..results import kernels_words, machine_where
from .claims import final_test, verdict_words
from .folder import NOT_RUN, Results
from .stats import Spread, similar

# The report's validation accuracy in the student recipe's last epoch (80.3%): the mark the
# 1.3.7 recipes' validation curves are held against (like with like: validation with validation).
TARGET = REPORT["student"]["final_val_acc"]


def elapsed_minutes(history):
    """Training minutes (epoch times summed) at the end of each epoch of a run."""
    minutes, elapsed = [], 0.0
    for seconds in history["seconds"]:
        elapsed += seconds / 60
        minutes.append(elapsed)
    return minutes


def first_epoch_at(history, target=TARGET):
    """The index of the first epoch whose validation accuracy reaches target; None if none does."""
    return next((i for i, acc in enumerate(history["val_acc"]) if acc >= target), None)


TIME_FIGURE = "q1_3_7_accuracy_against_time.png"


def section_time_to_target(out):
    """1.3.7: when each recipe's validation accuracy first reaches the report's validation
    accuracy of the student recipe (TARGET), in the minutes each run measured and in the
    minutes the bench's speeds give on one CPU."""
    out = Results.of(out)
    record = out.record("q1_3_improve", quick=False)
    if not record or TIME_FIGURE not in (record.get("figures") or []):
        return []
    runs = [(f"{recipe} recipe", recipe, run) for recipe, run in (record.get("runs") or {}).items()]
    # Shortened runs of the best recipe (only their epochs differ) show how soon it gets there
    # when its schedule is compressed to fewer epochs.
    for each in out.ablation_runs("best"):
        cfg = each.run["train_config"]
        if [k for k, _ in differences(cfg, TrainConfig(**RECIPES["best"]))] == ["epochs"]:
            runs.append((f"best recipe in {cfg['epochs']} epochs (ablation/{each.name})", "best", each.run))
    benches = recipe_minutes(out)
    lines = [f"### Validation accuracy against training time, and the student's {TARGET}%", "",
             f"When each recipe's validation accuracy first reaches {TARGET}%, the report's validation "
             "accuracy in the student recipe's last epoch:", ""]
    for label, recipe, run in runs:
        history = run["history"]
        i = first_epoch_at(history)
        if i is None:
            lines.append(
                f"- {label}: never reaches {TARGET}% validation accuracy in its {len(history['epoch'])} "
                f"epochs (best {run['best_val_acc']:.2f}%)."
            )
            continue
        epoch = history["epoch"][i]
        text = (f"- {label}: first reaches it after epoch {epoch}, at {elapsed_minutes(history)[i]:.1f} "
                "training minutes measured")
        for bench in benches:
            minutes = bench.minutes
            if recipe in minutes and "student" in minutes:
                at = epoch * minutes[recipe] / recipe_epochs(recipe)
                text += (
                    f"; from the bench's speeds with {bench.kernels} kernels, {bench.threads} threads: "
                    f"{at:.1f} min, {at / minutes['student']:.2f} of the student recipe's "
                    f"{minutes['student']:.1f} min"
                )
        lines.append(text + ".")
    return lines + [
        "",
        "Measured minutes are each run's epoch times summed (training and validation) on the machine "
        "named for it, which other work on the machine may have slowed; the bench's minutes come from "
        "one process timing every recipe on one CPU (`python -m common.bench --device cpu --recipes`). "
        "In the figure each point is a finished epoch at its measured minutes.",
        "",
        f"![{TIME_FIGURE}]({TIME_FIGURE})",
        "",
    ]


class BenchMinutes(NamedTuple):
    """What one `bench --recipes` says a whole run of each recipe takes on its CPU."""

    kernels: str
    threads: int
    minutes: dict  # {recipe: minutes of one whole run}


def recipe_minutes(out):
    """[BenchMinutes] from each `bench --recipes`
    JSON in out: the bench's whole-training estimate where it made one (training and
    validation), else epochs x 45,000 images at its training speed."""
    benches = []
    for r in Results.of(out).benches("bench_recipes_cpu_*.json"):
        r = r or {}
        env = r.get("env") or {}
        if env.get("cpu_capability") and isinstance(r.get("images_per_second"), dict):
            minutes = {
                name: (
                    statistics.median(r["training_seconds"][name]) / 60
                    if "training_seconds" in r
                    else recipe_epochs(name) * (CIFAR_TRAIN_IMAGES - TrainConfig().val_size)
                    / statistics.median(rates) / 60
                )
                for name, rates in r["images_per_second"].items()
            }
            benches.append(BenchMinutes(env["cpu_capability"], env.get("threads"), minutes))
    return benches


def _comma_listed(values, digits=0):
    """"1200, 1350": measured numbers as a bench line lists them."""
    return ", ".join(f"{x:.{digits}f}" for x in values)


def section_bench(out):
    out = Results.of(out)
    lines = []
    for r in out.benches():
        if r is None:
            continue
        device = r["env"]["device"] + kernels_words(r["env"])
        command = f"python -m common.bench --device {(r.get('config') or {}).get('device')}"
        if "median_ratio" in r:
            lines.append(
                f"- `{command}` on {device}: naive pipeline "
                f"{_comma_listed(r['naive_images_per_second'])} img/s, this package "
                f"{_comma_listed(r['package_images_per_second'])} img/s; median ratio "
                f"**{r['median_ratio']:.2f}** over {len(r['ratios'])} runs.")
        if "median_training_time_ratio" in r:
            minutes = ", ".join(f"{name} {statistics.median(seconds) / 60:.1f} min"
                                for name, seconds in r["training_seconds"].items())
            within = "within" if r["median_training_time_ratio"] <= r["budget"] else "**over**"
            lines.append(
                f"- `{command} --recipes` on {device}: whole training (epochs x a timed epoch and validation "
                f"pass) of {minutes} (medians of {len(r['training_time_ratios'])}); the best recipe takes "
                f"**{r['median_training_time_ratio']:.2f}x** the baseline's (each repeat: "
                f"{_comma_listed(r['training_time_ratios'], digits=2)}), {within} the {r['budget']}x budget.")
        if "median_ratios" in r:
            rates = r["images_per_second"]
            per_net = ", ".join(
                f"**{ratio:.2f}x** fp32's images per second for the {PRECISION_NET_NAMES[net]} "
                f"(fp32 {_comma_listed(rates[net]['fp32'])}, bf16 {_comma_listed(rates[net]['bf16'])} img/s)"
                for net, ratio in r["median_ratios"].items())
            lines.append(
                f"- `{command} --what precision` on {device} (native bf16: "
                f"{', '.join(r.get('cpu_bf16_flags') or []) or 'a GPU'}): bf16 trains at {per_net}; "
                f"medians of {len(next(iter(r['ratios'].values())))} alternating repeats.")
        if "skipped" in r:
            lines += [
                f"- `python -m common.bench --device {r['config']['device']} --what precision` on {device}: "
                f"skipped. {r['skipped']}"
            ]
        if "median_epoch_time_ratio" in r:  # older benches: one epoch of the then best recipe
            lines += [f"- `python -m common.bench --device {r['config']['device']} --recipes` on {device}: "
                      f"the best recipe's epoch takes **{r['median_epoch_time_ratio']:.2f}x** the baseline's "
                      f"(median of {len(r['epoch_time_ratios'])}: "
                      f"{', '.join(f'{x:.2f}' for x in r['epoch_time_ratios'])})."]
    lines += precision_verdict(out)
    return ["## Speed", ""] + lines + [""] if lines else []


PRECISION_NET_NAMES = {"baseline": "report's net (batch 32)", "best": "best recipe's net (batch 512)"}
BF16_FOLDER = "bf16"


def precision_verdict(out):
    """Does bf16 change the answer? The baseline's seeds trained in bf16 (out/bf16/) against
    the committed fp32 seeds, by the rule of the report's claims; and the best recipe in bf16."""
    out = Results.of(out)
    in_bf16 = out.below(BF16_FOLDER, {"precision": "bf16"})
    bf16 = [final_test(each.run) for each in in_bf16.seed_runs["baseline"]]
    if not bf16:
        return []
    fp32 = [final_test(each.run) for each in out.seed_runs["baseline"]]
    verdict, p = similar(bf16, fp32)
    lines = [
        f"- Does bf16 change the answer? \"bf16 changes the baseline's final test accuracy by less than 1 "
        f"point\": {verdict_words(verdict, p)} (the claims' rule, two one-sided tests within ±1 point). "
        "bf16 over "
        f"{len(bf16)} seed{'s' if len(bf16) > 1 else ''}: "
        + ", ".join(f"{v:.2f}" for v in bf16)
        + f" (mean {Spread(bf16).mean:.2f}); fp32 over {len(fp32)}: "
        + ", ".join(f"{v:.2f}" for v in fp32)
        + (f" (mean {Spread(fp32).mean:.2f})" if fp32 else "")
        + f". Runs in `{BF16_FOLDER}/`."
    ]
    best = ((out.below(BF16_FOLDER).record("q1_3_improve", quick=False) or {}).get("runs") or {}).get("best")
    if isinstance(best, dict) and best.get("train_config", {}).get("precision") == "bf16":
        fp32_best = [each.run["final_test_acc"] for each in out.best_recipe_seeds]
        lines.append(
            f"- The best recipe in bf16, seed {best['train_config'].get('seed', 0)}: final test "
            f"{best['final_test_acc']:.2f}% in {sum(best['history']['seconds']) / 60:.1f} min of training"
            f"{kernels_words(best.get('env') or {})}; in fp32 over {len(fp32_best)} seeds: "
            + ", ".join(f"{v:.2f}" for v in fp32_best)
            + "%."
        )
    return lines


class TimeRow(NamedTuple):
    """A row of the times table: a training command's question, its runs' measured minutes (None:
    not run), the machines they name, and the minutes each bench's speeds give (None: not timed)."""

    question: str
    measured: float | None
    machines: list
    estimates: list


class TimesTable(NamedTuple):
    """The times table: its rows, the benches its estimates come from ([BenchMinutes]), and the
    commands `python -m common.everything` leaves out."""

    rows: list
    benches: list
    left_out: list

    @property
    def measured(self):
        """{question: whether its time was measured}."""
        return {row.question: row.measured is not None for row in self.rows}

    def lines(self):
        split = TrainConfig()
        return [
            "| question | measured training time | machine |"
            + "".join(f" from the speed with {bench.kernels} kernels, {bench.threads} threads |"
                      for bench in self.benches),
            "|---|---:|---|" + "---:|" * len(self.benches),
            *(f"| {row.question} | {NOT_RUN if row.measured is None else f'{row.measured:.0f} min'} | "
              f"{'; '.join(row.machines) or '-'} |"
              + "".join(" - |" if minutes is None else f" {minutes:.0f} min |" for minutes in row.estimates)
              for row in self.rows),
            "",
            "`python -m common.everything` runs every row"
            + "".join(f" but the {RUN[command.runs[0]].name} recipe's (`{command.words()}`)"
                      for command in self.left_out)
            + ". Measured: the sum of each run's epoch times in its JSON."
            + (f" From the speed: the recipe's epochs x ({CIFAR_TRAIN_IMAGES - split.val_size:,} training "
               f"images at the training speed and {split.val_size:,} validation images at the validation "
               "speed that `python -m common.bench --device cpu --recipes` measured; the final test passes "
               "add a little)."
               if self.benches else ""),
        ]


def times_table(out, every_row=True):
    """Markdown lines: each question's measured training time (from its JSON) and, per CPU
    kernel family that `bench --recipes` measured, the training time its speed implies;
    every_row: also the questions out has no run of (as "not run yet")."""
    return times_rows(out, every_row).lines()


def times_rows(out, every_row=True):
    """The times table as TimesTable, a row per training command (config.COMMANDS)."""
    out = Results.of(out)
    benches = recipe_minutes(out)
    rows, left_out = [], []
    for command in (command for command in COMMANDS if command.runs):
        runs = out.trained_by(command)
        if not runs and not every_row:
            continue
        if not command.in_everything:
            left_out.append(command)
        timed = [RUN[name].timed_as for name in command.runs]
        rows.append(TimeRow(
            question=command.question,
            measured=sum(sum(run["history"].get("seconds") or [0]) for run in runs) / 60 if runs else None,
            machines=sorted({machine_where(run) if run.get("env") else "not recorded" for run in runs}),
            estimates=[sum(bench.minutes[recipe] for recipe in timed)
                       if all(recipe in bench.minutes for recipe in timed) else None for bench in benches]))
    return TimesTable(rows, benches, left_out)


def recipe_epochs(name):
    return TrainConfig(**RECIPES.get(name, {})).epochs


def section_times(out):
    return ["## How long each question takes", ""] + times_table(out, every_row=False) + [""]
