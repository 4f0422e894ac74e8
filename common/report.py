"""Tables and figures/REPORT.md, rebuilt from whichever result JSON files are present."""
import os
import statistics
import sys
from pathlib import Path

from . import claims
from .config import RECIPE_TITLES, RECIPES, TrainConfig, as_words, differences
from .seeds import seed_runs
from .config import CLASSES, GIVEN_STD
from .files import locked, write_text
from .results import read_record

# The numbers of ../shared/seed/assignment2_report.txt, as SPEC.md lists them.
REPORT = {
    "normalized_mean": [0.0, -2e-4, 1e-4], "normalized_std": [1.000, 1.002, 1.002],
    "total_params": 2_168_362,
    "baseline": {"final_test_acc": 70.42, "best_val_acc": 71.1, "best_val_epoch": 17},
    "dropout": {"0.2": {"final_test_acc": 70.69}, "0.5": {"final_test_acc": 74.04, "best_val_acc": 75.5,
                                                            "best_val_epoch": 17},
                "0.8": {"final_test_acc": 66.72}},
    "best_dropout": 0.5, "raw_accuracy": 40.0, "normalized_accuracy": 70.0,
    "student": {"final_test_acc": 80.15, "best_val_acc": 81.6, "best_val_epoch": 13, "final_val_acc": 80.3},
}
SCRIPTS = ("q1_1_data", "q1_2_model", "q1_3_train", "q1_3_dropout", "q1_3_improve")


def probability_table(predictions, dropout, quick=False):
    """1.3.6: the two 10-class probability tables in Markdown, three decimals, with accuracies."""
    lines = [f"# Question 1.3.6: class probabilities of the best model (dropout p = {dropout})", ""]
    if quick:
        lines += [QUICK_LINE, ""]
    for mode, word in (("raw", "fed without normalization ([0,1] pixels)"),
                       ("normalized", "fed normalized with the given mean and std")):
        r = predictions[mode]
        lines += [f"## Test images {word}: accuracy {r['accuracy']:.0f}%", "",
                  "| image | true | predicted | " + " | ".join(CLASSES) + " |",
                  "|---|---|---|" + "---:|" * len(CLASSES)]
        for i, (index, true, pred, probs) in enumerate(zip(predictions["indices"], predictions["true"],
                                                           r["pred"], r["probs"]), start=1):
            mark = "right" if true == pred else "WRONG"
            cells = " | ".join(f"**{p:.3f}**" if c == pred else f"{p:.3f}" for c, p in enumerate(probs))
            lines.append(f"| {i} (test #{index}) | {CLASSES[true]} | {CLASSES[pred]} ({mark}) | {cells} |")
        lines.append("")
    lines += ["## The whole test set", ""] + whole_test_set_summary(predictions)
    return "\n".join(lines)


def whole_test_set_summary(predictions):
    """Markdown lines: what the whole test set says about raw against normalized inputs,
    and why ten images can say otherwise. Empty for a record made before it was measured."""
    whole = predictions.get("test_set")
    if not whole:
        return []
    raw, norm = whole["raw"], whole["normalized"]
    n = sum(raw["predicted_counts"])
    ranked = sorted(range(len(CLASSES)), key=lambda c: -raw["predicted_counts"][c])
    top, covered = [], 0
    for c in ranked:  # the fewest classes that take 90% of the raw answers
        top.append(c)
        covered += raw["predicted_counts"][c]
        if covered >= 0.9 * n:
            break
    shares = ", ".join(f"{CLASSES[c]} {100 * raw['predicted_counts'][c] / n:.1f}%" for c in top)
    lines = [f"On all {n:,} test images the model is right on {norm['accuracy']:.2f}% fed normalized "
             f"and {raw['accuracy']:.2f}% fed raw. Fed [0,1] pixels ({1 / statistics.mean(GIVEN_STD):.1f} "
             f"times less contrast than it was trained on, and shifted by the mean) its answers collapse onto {_plural(len(top), 'class', 'classes')}, "
             f"which take {100 * covered / n:.1f}% of them: {shares}.", ""]
    shown = sorted(set(predictions["true"]))
    if len(shown) <= 3:
        recalls = "; ".join(f"{CLASSES[c]}: {raw['recall'][c]:.1f}% fed raw, {norm['recall'][c]:.1f}% "
                            f"normalized" for c in shown)
        lines += [f"Recall on the classes of the ten images shown ({recalls})."]
        if predictions["raw"]["accuracy"] >= predictions["normalized"]["accuracy"]:
            favoured = [CLASSES[c] for c in shown if c in top]
            why = f"The ten images come from {_plural(len(shown), 'class', 'classes')} only"
            if favoured:
                why += f", and {', '.join(favoured)} is one the raw feed collapses onto"
            why += (": on so small and one-sided a sample (one image is 10 points) the raw feed ties "
                    "or beats the normalized one, while on the whole test set it is far worse")
            if all(raw["recall"][c] < norm["recall"][c] for c in shown):
                why += (f"; even on the {'class' if len(shown) == 1 else 'classes'} shown it is worse over the whole test set, so its "
                        "lead on the ten is chance")
            lines.append(why + ". Pass `--images` with images of several classes to see the "
                         "difference on ten.")
        lines.append("")
    return lines


def _plural(n, one, many):
    return f"{n} {one if n == 1 else many}"


def _num(value, digits=2):
    if value is None:
        return "-"
    if isinstance(value, int):  # counts; every measured quantity keeps its digits, 44.00 beside 41.60
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def _row(what, ours, report=None, digits=2, unit=""):
    # Rounding first, then adding 0.0, turns a float error of -1e-7 into "+0", not "-0".
    diff = "-" if report is None or ours is None else f"{round(ours - report, digits) + 0.0:+,.{digits}f}{unit}"
    return f"| {what} | {_num(ours, digits)}{unit if ours is not None else ''} | " \
           f"{_num(report, digits) + unit if report is not None else 'not given'} | {diff} |"


TABLE_HEAD = ["| quantity | this package | report | difference |", "|---|---:|---:|---:|"]


def _kernels(env):
    """", CPU kernels AVX2, 2 threads" for a CPU run that recorded them, else ""."""
    if not (env.get("cpu_capability") and str(env.get("device", "")).startswith("cpu")):
        return ""
    return f", CPU kernels {env['cpu_capability']}, {_plural(env['threads'], 'thread', 'threads')}"


def _runs(record):
    """The training runs a record holds: itself (q1_3_train), or its "runs"."""
    if "history" in record:
        return [record]
    return [run for run in (record.get("runs") or {}).values() if isinstance(run, dict) and "history" in run]


QUICK_MARK = "**QUICK smoke run: not comparable with the report**"
QUICK_LINE = f"> {QUICK_MARK}"


def _provenance(record):
    """One line: how the numbers were made, with the marks a grader must see."""
    marks = []
    if record.get("quick"):
        marks.append(QUICK_MARK)
    data = record.get("data") or {}
    if data and data.get("checksum_verified") is False:
        marks.append("data checksum not verified (re-encoded copy of CIFAR-10)")
    env = record.get("env", {})
    kernels = _kernels(env)
    seconds = [sum(run["history"].get("seconds") or [0]) for run in _runs(record)]
    took = (f"{sum(seconds) / 60:.1f} minutes of training ({' + '.join(f'{s / 60:.1f}' for s in seconds)})"
            if len(seconds) > 1 else f"{seconds[0] / 60:.1f} minutes of training" if seconds
            else f"{record.get('seconds', 0):.0f} s to run")
    line = (f"_Written on {env.get('device', '?')}{kernels}, torch {env.get('torch', '?')}; {took}"
            + (f"; {data['n_train']:,} training / {data['n_val']:,} validation / {data['n_test']:,} test images"
               if data and data.get("n_train") else "") + "._")
    return "\n".join([line] + [f"> {m}" for m in marks])


def _figures(record, names=None):
    return [f"![{name}]({name})" for name in (names or record.get("figures", [])) if name.endswith(".png")]


SHOWN_ALWAYS = ("epochs", "batch_size", "lr", "momentum", "dropout", "activation", "seed")


def _settings(cfg):
    """The report's settings, then every other one that differs from the baseline's."""
    text = ", ".join(f"{k} {cfg[k]}" for k in SHOWN_ALWAYS if k in cfg)
    extra = as_words((k, v) for k, v in differences(cfg, TrainConfig()) if k not in SHOWN_ALWAYS)
    return text + "".join(f", {x}" for x in extra)


def _machine(run):
    """Where a run was trained: the same seed gives slightly different numbers on other
    CPU kernels or thread counts."""
    env = run.get("env") or {}
    if not env:
        return "Machine: not recorded (trained before the package recorded it)."
    kernels = _kernels(env)
    return f"Trained on {env.get('device', '?')}{kernels}, torch {env.get('torch', '?')}."


def _training_rows(run, report):
    return [_row("final test accuracy (%)", run["final_test_acc"], report.get("final_test_acc")),
            _row("best validation accuracy (%)", run["best_val_acc"], report.get("best_val_acc")),
            _row("epoch of the best validation accuracy", run["best_val_epoch"], report.get("best_val_epoch"), 0),
            _row("final validation accuracy (%)", run["final_val_acc"], report.get("final_val_acc")),
            _row("test accuracy of the best-validation weights (%)", run.get("best_model_test_acc")),
            _row("median seconds per epoch (training and validation)",
                 statistics.median(run["history"]["seconds"]) if run["history"].get("seconds") else None, None, 1),
            _row("training time, all epochs (minutes)",
                 sum(run["history"]["seconds"]) / 60 if run["history"].get("seconds") else None, None, 1)]


def _section_data(r):
    lines = ["## 1.1 Data", "", _provenance(r), ""] + TABLE_HEAD + [
        _row("training images (1.1.1)", r["n_train_images"], 50000, 0),
        _row("test images (1.1.1)", r["n_test_images"], 10000, 0)]
    for c, name in enumerate(("red", "green", "blue")):
        lines.append(_row(f"mean after normalization, {name} (1.1.2)", r["normalized_mean"][c],
                          REPORT["normalized_mean"][c], 4))
    for c, name in enumerate(("red", "green", "blue")):
        lines.append(_row(f"std after normalization, {name} (1.1.2)", r["normalized_std"][c],
                          REPORT["normalized_std"][c], 4))
    for c, name in enumerate(("red", "green", "blue")):
        lines.append(_row(f"computed mean, {name} (1.1.3; report: the given constant)",
                          r["computed_mean"][c], r["given_mean"][c], 5))
    for c, name in enumerate(("red", "green", "blue")):
        lines.append(_row(f"computed std, {name} (1.1.3; report: the given constant)",
                          r["computed_std"][c], r["given_std"][c], 5))
    lines += [_row("training images after the split (1.1.4)", r["split"]["train"], 45000, 0),
              _row("validation images after the split (1.1.4)", r["split"]["val"], 5000, 0), "",
              f"1.1.3: the given mean agrees with `mean_and_std` to {r.get('mean_agrees_to_decimals', '?')} "
              f"decimals and the given std to {r.get('std_agrees_to_decimals', '?')}. "
              "The report's normalized std of 1.002 is the ratio of the true std to the rounded given "
              "constant (0.24349 / 0.243), not a rounding error.", ""]
    return lines + _figures(r) + [""]


def _section_model(r):
    lines = ["## 1.2 The ConvNet (1.2.1)", "", _provenance(r), "",
             "| layer | type | output shape | parameters |", "|---|---|---|---:|"]
    lines += [f"| {x['name']} | {x['type']} | {' x '.join(map(str, x['output_shape']))} | {x['params']:,} |"
              for x in r["layers"]]
    lines += ["", *TABLE_HEAD, _row("parameters", r["total_params"], REPORT["total_params"], 0), ""]
    return lines


def _section_train(r):
    lines = ["## 1.3.1-1.3.4 Baseline training", "", _provenance(r), "",
             f"Settings: {_settings(r.get('train_config', {}))}. {_machine(r)}", "", *TABLE_HEAD]
    lines += _training_rows(r, REPORT["baseline"])
    h = r["history"]
    low = min(range(len(h["val_loss"])), key=h["val_loss"].__getitem__)
    lines += ["", f"Validation loss is lowest at epoch {h['epoch'][low]} ({h['val_loss'][low]:.3f}) and "
              f"{'rises' if h['val_loss'][-1] > h['val_loss'][low] else 'does not rise'} to "
              f"{h['val_loss'][-1]:.3f} by epoch {h['epoch'][-1]}, while training accuracy reaches "
              f"{h['train_acc'][-1]:.1f}%: the over-fitting the report describes." if h["epoch"][-1] > h["epoch"][low]
              else "", ""]
    return lines + _figures(r) + [""]


def _section_dropout(r):
    lines = ["## 1.3.5 Dropout", "", _provenance(r), ""]
    for p, run in r["runs"].items():
        lines += [f"### p = {p}", "", f"Settings: {_settings(run.get('train_config', {}))}. {_machine(run)}", "",
                  *TABLE_HEAD]
        lines += _training_rows(run, REPORT["dropout"].get(p, {}))
        lines += [""] + _figures(run) + [""]
    lines += ["### All runs", ""] + _figures(r, ["q1_3_5_dropout_comparison.png"]) + [""]
    pred = r["predictions"]
    lines += ["## 1.3.6 The best model on ten test images", "", *([QUICK_LINE, ""] if r.get("quick") else []),
              *TABLE_HEAD,
              _row("best dropout p (by validation accuracy)", r["best_dropout"], REPORT["best_dropout"], 1),
              _row("accuracy fed without normalization (%)", pred["raw"]["accuracy"], REPORT["raw_accuracy"], 0),
              _row("accuracy fed normalized (%)", pred["normalized"]["accuracy"], REPORT["normalized_accuracy"], 0),
              "", f"Test images {', '.join(map(str, pred['indices']))}; true classes: "
              f"{', '.join(CLASSES[t] for t in pred['true'])}. The report's ten images were drawn by a "
              "shuffled loader and are not these, so the ten-image accuracies compare only roughly.",
              "", *whole_test_set_summary(pred),
              "Probability tables: [q1_3_6_probabilities.md](q1_3_6_probabilities.md)", ""]
    return lines + _figures(r, ["q1_3_6_predictions_raw.png", "q1_3_6_predictions_normalized.png"]) + [""]


TARGET = REPORT["student"]["final_test_acc"]  # the student's 80.15%, the mark 1.3.7 has to beat


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


def _section_improve(r):
    lines = ["## 1.3.7 Improving the model", "", _provenance(r), ""]
    for recipe, title in RECIPE_TITLES.items():
        run = r["runs"].get(recipe)
        if not run:
            lines += [f"### {title}: not run yet (`python q1_3_improve.py --recipe {recipe}`)", ""]
            continue
        report = REPORT["student"] if recipe == "student" else {}
        lines += [f"### {title}", "", f"Settings: {_settings(run.get('train_config', {}))}. {_machine(run)}", "",
                  *TABLE_HEAD, *_training_rows(run, report)]
        if recipe != "student":
            lines.append(_row("final test accuracy against the student's 80.15% (%)",
                              run["final_test_acc"], REPORT["student"]["final_test_acc"]))
            for key, what in (("final_test_acc_flip_only", "with test-time flip but no shifts"),
                              ("final_test_acc_without_tta", "without test-time views")):
                if key in run:
                    lines.append(_row(f"final test accuracy {what} (%)", run[key],
                                      REPORT["student"]["final_test_acc"]))
            if "final_val_acc_all_views" in run:
                lines.append(_row("final validation accuracy with every test-time view (%)",
                                  run["final_val_acc_all_views"], None))
        lines += [""] + [f"![{f}]({f})" for f in r["figures"] if f.startswith(f"q1_3_7_{recipe}_")] + [""]
    return lines


TIME_FIGURE = "q1_3_7_accuracy_against_time.png"


def _section_time_to_target(out):
    """1.3.7: when each recipe's validation accuracy first reaches the student's 80.15%, in
    the minutes each run measured and in the minutes the bench's speeds give on one CPU."""
    record = read_record(out / "q1_3_improve.json", quick=False)
    if not record or TIME_FIGURE not in (record.get("figures") or []):
        return []
    runs = [(f"{recipe} recipe", recipe, run) for recipe, run in (record.get("runs") or {}).items()]
    # Shortened runs of the best recipe (only their epochs differ) show how soon it gets there
    # when its schedule is compressed to fewer epochs.
    for path in sorted((out / "ablation").glob("*/q1_3_improve.json")):
        run = ((read_record(path, quick=False) or {}).get("runs") or {}).get("best")
        if isinstance(run, dict) and [k for k, _ in differences(run.get("train_config", {}), TrainConfig(**RECIPES["best"]))] == ["epochs"]:
            runs.append((f"best recipe in {run['train_config']['epochs']} epochs (ablation/{path.parent.name})", "best", run))
    benches = recipe_minutes(out)
    lines = [f"### Validation accuracy against training time, and the student's {TARGET}%", ""]
    for label, recipe, run in runs:
        history = run["history"]
        i = first_epoch_at(history)
        if i is None:
            lines.append(f"- {label}: never reaches {TARGET}% validation accuracy in its {len(history['epoch'])} "
                         f"epochs (best {run['best_val_acc']:.2f}%).")
            continue
        epoch = history["epoch"][i]
        text = f"- {label}: first reaches it after epoch {epoch}, at {elapsed_minutes(history)[i]:.1f} training minutes measured"
        for capability, threads, minutes in benches:
            if recipe in minutes and "student" in minutes:
                at = epoch * minutes[recipe] / _recipe_epochs(recipe)
                text += (f"; from the bench's speeds with {capability} kernels, {threads} threads: {at:.1f} min, "
                         f"{at / minutes['student']:.2f} of the student recipe's {minutes['student']:.1f} min")
        lines.append(text + ".")
    return lines + ["", "Measured minutes are each run's epoch times summed (training and validation) on the machine "
                    "named for it, which other work on the machine may have slowed; the bench's minutes come from "
                    "one process timing every recipe on one CPU (`python -m common.bench --device cpu --recipes`). "
                    "In the figure each point is a finished epoch, at the bench's minutes on one CPU where a bench "
                    "was run (its axis says which), else at the measured ones.", "",
                    f"![{TIME_FIGURE}]({TIME_FIGURE})", ""]


def minutes_axis(runs, out, capability):
    """({recipe: minutes at the end of each epoch}, what they are) for the 1.3.7 time figure:
    every recipe on one CPU at the speeds `bench --recipes` measured with these kernels
    (or the first family it measured), or, without a bench, each run's own epoch times."""
    benches = sorted(recipe_minutes(out), key=lambda bench: bench[0] != capability)
    if benches and all(recipe in benches[0][2] for recipe in runs):
        kernels, threads, minutes = benches[0]
        per_epoch = {recipe: minutes[recipe] / _recipe_epochs(recipe) for recipe in runs}
        return ({recipe: [e * per_epoch[recipe] for e in run["history"]["epoch"]] for recipe, run in runs.items()},
                f"training minutes on one CPU ({kernels} kernels, {threads} threads): each epoch at the speed "
                f"python -m common.bench --recipes measured there")
    return ({recipe: elapsed_minutes(run["history"]) for recipe, run in runs.items()},
            "training minutes, each run's epoch times summed as it measured them (machines may differ)")


def recipe_minutes(out):
    """[(CPU kernels, threads, {recipe: minutes of one whole run})] from each `bench --recipes`
    JSON in out: the bench's whole-training estimate where it made one (training and
    validation), else epochs x 45,000 images at its training speed."""
    benches = []
    for path in sorted(Path(out).glob("bench_recipes_cpu_*.json")):
        r = read_record(path) or {}
        env = r.get("env") or {}
        if env.get("cpu_capability") and isinstance(r.get("images_per_second"), dict):
            minutes = {name: (statistics.median(r["training_seconds"][name]) / 60 if "training_seconds" in r else
                              _recipe_epochs(name) * 45000 / statistics.median(rates) / 60)
                       for name, rates in r["images_per_second"].items()}
            benches.append((env["cpu_capability"], env.get("threads"), minutes))
    return benches


def _section_ablation(out):
    """1.3.7: each recipe with one change undone, from figures/ablation/*/q1_3_improve.json."""
    paths = [(path.parent.name, path) for path in sorted((out / "ablation").glob("*/q1_3_improve.json"))]
    if not paths:
        return []
    lines = []
    for recipe in ("best", "bn_onecycle"):
        def found(name, path):
            record = read_record(path)
            run = ((record or {}).get("runs") or {}).get(recipe)
            if isinstance(run, dict) and "train_config" in run:
                if path.parent != out and not run.get("env"):
                    # an ablation folder holds one run: its command's machine is the run's
                    run = {**run, "env": record.get("env") or {}}
                return [(name, record, run, as_words(differences(run["train_config"], TrainConfig(**RECIPES[recipe]))))]
            return []
        rows = [row for name, path in paths for row in found(name, path)]
        if rows:
            rows += found(f"the {recipe} recipe (above)", out / "q1_3_improve.json")
            lines += _ablation_table(recipe, rows)
    return lines


def _ablation_table(recipe, rows):
    rows.sort(key=lambda row: (-row[2]["train_config"]["epochs"], bool(row[3]), row[0]))
    lines = [f"### Ablation of the {recipe} recipe", "",
             "Each row is a real run of `q1_3_improve.py`, its JSON in `ablation/<name>/`; the second column "
             f"lists, from the run's own settings, where it differs from the {recipe} recipe as the code defines "
             "it now. Compare rows with the same epochs: shortened runs are labelled by their epochs.", "",
             f"| run | settings that differ from the {recipe} recipe | epochs | final test (%) | "
             "final test without test-time views (%) | best validation (%) | median seconds per epoch | "
             "CPU kernels, threads |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    for name, record, run, changes in rows:
        name += " **(QUICK)**" if record.get("quick") else ""
        env = run.get("env") or {}
        kernels = f"{env['cpu_capability']}, {env['threads']}" if env.get("cpu_capability") else "not recorded"
        plain_views = run.get("final_test_acc_without_tta")
        lines.append(f"| {name} | {', '.join(changes) or 'none: the recipe'} | {run['train_config']['epochs']} | "
                     f"{run['final_test_acc']:.2f} | {'-' if plain_views is None else f'{plain_views:.2f}'} | "
                     f"{run['best_val_acc']:.2f} | {statistics.median(run['history']['seconds']):.1f} | {kernels} |")
    # Runs that differ only in seed show how far one run's number can be trusted: the recipe's
    # own seeds, and those of a shortened recipe (whose ablation rows they are the yardstick of).
    groups = {}
    for _, record, run, changes in rows:
        if not record.get("quick"):
            same = tuple(c for c in changes if not c.startswith("seed "))
            groups.setdefault(same, []).append((run["train_config"].get("seed", 0), run))
    for same, seeds in groups.items():
        if len(seeds) < 2:
            continue
        seeds.sort(key=lambda seed_run: seed_run[0])
        lines += ["", f"The {recipe} recipe{' with ' + ', '.join(same) if same else ''} over seeds "
                      f"{', '.join(str(seed) for seed, _ in seeds)}: "
                      f"{_spread('final test', [run['final_test_acc'] for _, run in seeds])}; "
                      f"{_spread('best validation', [run['best_val_acc'] for _, run in seeds])}."]
    return lines + [""]


def _spread(words, accs):
    """"final test 88.00, 87.00% (mean 87.50%, from 87.00% to 88.00%)"."""
    return (f"{words} {', '.join(f'{acc:.2f}' for acc in accs)}% (mean {statistics.mean(accs):.2f}%, "
            f"from {min(accs):.2f}% to {max(accs):.2f}%)")


def _section_bench(out):
    lines = []
    for path in sorted(out.glob("bench_*.json")):
        r = read_record(path)
        if r is None:
            continue
        device = r["env"]["device"] + _kernels(r["env"])
        if "median_ratio" in r:
            lines += [f"- `python -m common.bench --device {r['config']['device']}` on {device}: naive pipeline "
                      f"{', '.join(f'{x:.0f}' for x in r['naive_images_per_second'])} img/s, this package "
                      f"{', '.join(f'{x:.0f}' for x in r['package_images_per_second'])} img/s; median ratio "
                      f"**{r['median_ratio']:.2f}** over {len(r['ratios'])} runs."]
        if "median_training_time_ratio" in r:
            totals = r["training_seconds"]
            lines += [f"- `python -m common.bench --device {r['config']['device']} --recipes` on {device}: whole "
                      f"training (epochs x a timed epoch and validation pass) of "
                      + ", ".join(f"{name} {statistics.median(seconds) / 60:.1f} min" for name, seconds in totals.items())
                      + f" (medians of {len(r['training_time_ratios'])}); the best recipe takes "
                      f"**{r['median_training_time_ratio']:.2f}x** the baseline's (each repeat: "
                      f"{', '.join(f'{x:.2f}' for x in r['training_time_ratios'])}), "
                      + ("within" if r["median_training_time_ratio"] <= r["budget"] else "**over**")
                      + f" the {r['budget']}x budget."]
        if "median_epoch_time_ratio" in r:  # older benches: one epoch of the then best recipe
            lines += [f"- `python -m common.bench --device {r['config']['device']} --recipes` on {device}: "
                      f"the best recipe's epoch takes **{r['median_epoch_time_ratio']:.2f}x** the baseline's "
                      f"(median of {len(r['epoch_time_ratios'])}: "
                      f"{', '.join(f'{x:.2f}' for x in r['epoch_time_ratios'])})."]
    return ["## Speed", ""] + lines + [""] if lines else []


NOT_RUN = "not run yet"


def times_table(out):
    """Markdown lines: each question's measured training time (from its JSON) and, per CPU
    kernel family that `bench --recipes` measured, the training time its speed implies."""
    out = Path(out)
    benches = recipe_minutes(out)
    # question, script, recipe of its runs (None: all of them), recipe timed by the bench, runs of it
    rows = [("1.3.1-1.3.4 baseline", "q1_3_train", None, "baseline", 1),
            ("1.3.5-1.3.6 dropout sweep", "q1_3_dropout", None, "baseline", 3),
            ("1.3.7 student recipe", "q1_3_improve", "student", "student", 1),
            ("1.3.7 bn_onecycle recipe", "q1_3_improve", "bn_onecycle", "bn_onecycle", 1),
            ("1.3.7 best recipe", "q1_3_improve", "best", "best", 1)]
    lines = ["| question | measured training time | machine |"
             + "".join(f" from the speed with {cap} kernels, {threads} threads |" for cap, threads, _ in benches),
             "|---|---:|---|" + "---:|" * len(benches)]
    for question, script, key, recipe, n_runs in rows:
        record = read_record(out / f"{script}.json", quick=False)
        runs = [run for run in (_runs(record) if record else []) if key is None or run.get("recipe") == key]
        measured = sum(sum(run["history"].get("seconds") or [0]) for run in runs) / 60 if runs else None
        machines = sorted({_machine(run).removeprefix("Trained on ").rstrip(".") if run.get("env") else "not recorded"
                           for run in runs})
        estimates = [f"{n_runs * minutes[recipe]:.0f} min" if recipe in minutes else "-" for _, _, minutes in benches]
        lines.append(f"| {question} | {f'{measured:.0f} min' if measured is not None else NOT_RUN} | "
                     f"{'; '.join(machines) or '-'} |" + "".join(f" {e} |" for e in estimates))
    lines += ["", "Measured: the sum of each run's epoch times in its JSON. From the speed: the recipe's epochs x "
              "(45,000 training images at the training speed and 5,000 validation images at the validation speed "
              "that `python -m common.bench --device cpu --recipes` measured; the final test passes add a little)."]
    return lines


def _recipe_epochs(name):
    return TrainConfig(**RECIPES.get(name, {})).epochs


def _final_test_accuracies(out):
    """{run name: (final test accuracy, record)} of every full training run in out."""
    found = {}
    train = read_record(out / "q1_3_train.json", quick=False)
    if train and "final_test_acc" in train:
        found["1.3.4 baseline"] = (train["final_test_acc"], train)
    for key, run in ((read_record(out / "q1_3_dropout.json", quick=False) or {}).get("runs") or {}).items():
        found[f"1.3.5 dropout p = {key}"] = (run["final_test_acc"], run)
    for key, run in ((read_record(out / "q1_3_improve.json", quick=False) or {}).get("runs") or {}).items():
        found[f"1.3.7 {key} recipe"] = (run["final_test_acc"], run)
    return found


def _section_devices(out):
    """The CPU runs (out) and the GPU runs (out/gpu) of each question side by side."""
    gpu = _final_test_accuracies(out / "gpu")
    if not gpu:
        return []
    cpu = _final_test_accuracies(out)
    lines = ["## CPU and GPU side by side", "",
             "The same seeds and settings; the difference is floating point (other kernels, TF32 on the GPU), "
             "which training amplifies. GPU results and their own report: [gpu/REPORT.md](gpu/REPORT.md).", "",
             "| run | final test on the CPU (%) | on the GPU (%) | difference (GPU - CPU) |", "|---|---:|---:|---:|"]
    for name, (acc, _) in gpu.items():
        other = cpu.get(name, (None, None))[0]
        lines.append(f"| {name} | {'-' if other is None else f'{other:.2f}'} | {acc:.2f} | "
                     f"{'-' if other is None else f'{round(acc - other, 2) + 0.0:+.2f}'} |")
    return lines + [""]


def _section_times(out):
    return ["## How long each question takes", ""] + times_table(out) + [""]


SECTIONS = {"q1_1_data": _section_data, "q1_2_model": _section_model, "q1_3_train": _section_train,
            "q1_3_dropout": _section_dropout, "q1_3_improve": _section_improve}
COMMANDS = {"q1_1_data": "python q1_1_data.py", "q1_2_model": "python q1_2_model.py",
            "q1_3_train": "python q1_3_train.py", "q1_3_dropout": "python q1_3_dropout.py",
            "q1_3_improve": "python q1_3_improve.py --recipe student && python q1_3_improve.py"}


def build_report(out):
    """The text of REPORT.md from the JSON files in out; sections without results say how to get them."""
    out = Path(out)
    lines = [HEADING, "",
             "Built by `common/report.py` from the JSON files in this folder each time a script finishes; "
             "do not edit by hand. Percent values; differences are this package minus the report.", ""]
    for script in SCRIPTS:
        path = out / f"{script}.json"
        record = read_record(path)
        if record is None and path.is_file():
            lines += [f"> {path.name} is damaged (not a JSON record); rerun `{COMMANDS[script]}`.", ""]
        if record is None:
            lines += [f"## {script}: no results yet", "", f"Run `{COMMANDS[script]}`.", ""]
            continue
        try:
            lines += SECTIONS[script](record)
        except (KeyError, TypeError, IndexError) as err:
            lines += [f"## {script}: results incomplete ({type(err).__name__}: {err}); rerun "
                      f"`{COMMANDS[script]}`.", ""]
    answers = Path(os.path.relpath(Path(__file__).resolve().parent.parent / "q1_4_answers.md",
                                   out.resolve())).as_posix()
    lines += _section_time_to_target(out) + _section_ablation(out)
    if sum(1 for runs in seed_runs(out).values() if runs) >= 2:  # a folder of the report's runs, not one run's
        lines += claims.section(out)
    lines += claims.confusion_section(out)
    lines += _section_bench(out) + _section_devices(out) + _section_times(out)
    lines += ["## 1.4 Written answers", "",
              f"See [q1_4_answers.md]({answers}) (1.4.1 softmax, 1.4.2, 1.4.3 1D convolution, "
              "1.4.4 dropout at test time), each claim checked by `tests/test_answers.py`.", ""]
    return "\n".join(lines)


HEADING = "# CIFAR-10 ConvNet: this package's results beside the report's"


def write_report(out):
    """REPORT.md, after the figures that combine runs (several seeds, several runs) are redrawn."""
    claims.draw_dropout_comparison(out)
    claims.draw_confusion(out)
    return write_text(Path(out) / "REPORT.md", build_report(out))


def refresh_reports(out):
    """Rebuild REPORT.md in out, and in each folder above it that holds one of this
    package's reports (a run written under figures/ablation/<name>/ is a row of
    figures/REPORT.md); never a REPORT.md this package did not write."""
    out = Path(out).resolve()
    with locked(out):  # runs that finish together each rebuild it from every record
        write_report(out)
    for folder in list(out.parents)[:3]:
        path = folder / "REPORT.md"
        try:
            ours = path.is_file() and path.read_text().startswith(HEADING)
        except (OSError, UnicodeDecodeError):
            ours = False
        if ours:
            with locked(folder):
                write_report(folder)


def main(argv=None):
    import argparse
    parser = argparse.ArgumentParser(
        description="Rebuild FOLDER/REPORT.md from the JSON files there (and, for figures/, README's table of "
                    "times); nothing is trained.")
    parser.add_argument("folder", nargs="?", default="figures",
                        help="the folder the scripts wrote their JSON to (their --out)")
    folder = Path(parser.parse_args(argv).folder)
    if not folder.is_dir():
        sys.exit(f"error: {folder} is not a folder; pass the folder the scripts wrote their JSON to "
                 f"(their --out, figures/ by default).")
    with locked(folder):
        print(f"wrote {write_report(folder)}")
    if folder.resolve() == (Path(__file__).resolve().parent.parent / "figures").resolve():
        from .readme import refresh_all
        lost = refresh_all(folder)
        print(f"left a block of README.md or docs/recipe.md as it was: {', '.join(lost)} would have lost measured "
              f"numbers (their JSON is missing)" if lost else "rebuilt the generated blocks of README.md and "
                                                               "docs/recipe.md")


if __name__ == "__main__":
    main()
