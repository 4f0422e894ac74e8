"""1.3.7's ablation tables: each recipe with one change undone, from figures/ablation/*/."""
import statistics

from typing import NamedTuple

from ..config import ABLATED, RECIPES, TrainConfig, as_words, differences
from .folder import Results


class AblationRow(NamedTuple):
    """A row of an ablation table: the run's name, record and run, and its settings that differ
    from the recipe's ([(setting, value)])."""

    name: str
    record: dict
    run: dict
    changes: list


def section_ablation(out):
    """1.3.7: each recipe with one change undone, from figures/ablation/*/q1_3_improve.json."""
    out = Results.of(out)
    lines = []
    for recipe in ABLATED:
        # an ablation folder holds one run: its command's machine is the run's
        rows = [
            AblationRow(name=each.name, record=each.record, changes=changes(each.run, recipe),
                        run=each.run if each.run.get("env") else {**each.run,
                                                                  "env": each.record.get("env") or {}})
            for each in out.ablation_runs(recipe, quick=None)
        ]
        own = out.record("q1_3_improve")
        run = ((own or {}).get("runs") or {}).get(recipe)
        if rows and isinstance(run, dict) and "train_config" in run:
            rows.append(AblationRow(f"the {recipe} recipe (above)", own, run, changes(run, recipe)))
        if rows:
            lines += _ablation_table(recipe, rows)
    return lines


def changes(run, recipe):
    """[(setting, value)] where a run's settings differ from recipe's as the code defines it now."""
    return differences(run["train_config"], TrainConfig(**RECIPES[recipe]))


def _ablation_table(recipe, rows):
    rows.sort(key=lambda row: (-row.run["train_config"]["epochs"], bool(row.changes), row.name))
    lines = [
        f"### Ablation of the {recipe} recipe",
        "",
        "Each row is a real run of `q1_3_improve.py`, its JSON in `ablation/<name>/`; the second column "
        f"lists, from the run's own settings, where it differs from the {recipe} recipe as the code defines "
        "it now. Compare rows with the same epochs: shortened runs are labelled by their epochs.",
        "",
        f"| run | settings that differ from the {recipe} recipe | epochs | final test (%) | "
        "final test without test-time views (%) | best validation (%) | median seconds per epoch | "
        "CPU kernels, threads |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        name, run = row.name + (" **(QUICK)**" if row.record.get("quick") else ""), row.run
        env = run.get("env") or {}
        kernels = (
            f"{env['cpu_capability']}, {env['threads']}" if env.get("cpu_capability") else "not recorded"
        )
        plain_views = run.get("final_test_acc_without_tta")
        lines.append(
            f"| {name} | {', '.join(as_words(row.changes)) or 'none: the recipe'} | "
            f"{run['train_config']['epochs']} | "
            f"{run['final_test_acc']:.2f} | {'-' if plain_views is None else f'{plain_views:.2f}'} | "
            f"{run['best_val_acc']:.2f} | {statistics.median(run['history']['seconds']):.1f} | {kernels} |"
        )
    # Runs that differ only in seed show how far one run's number can be trusted: the recipe's
    # own seeds, and those of a shortened recipe (whose ablation rows they are the yardstick of).
    groups = {}
    for row in rows:
        if not row.record.get("quick"):
            same = tuple(as_words((k, v) for k, v in row.changes if k != "seed"))
            groups.setdefault(same, []).append((row.run["train_config"].get("seed", 0), row.run))
    for same, seeds in groups.items():
        if len(seeds) < 2:
            continue
        seeds.sort(key=lambda seed_run: seed_run[0])
        lines += ["", f"The {recipe} recipe{' with ' + ', '.join(same) if same else ''} over seeds "
                      f"{', '.join(str(seed) for seed, _ in seeds)}: "
                      f"{_accuracies_words('final test', [run['final_test_acc'] for _, run in seeds])}; "
                      f"{_accuracies_words('best validation', [run['best_val_acc'] for _, run in seeds])}."]
    return lines + [""]


def _accuracies_words(words, accs):
    """"final test 88.00, 87.00% (mean 87.50%, from 87.00% to 88.00%)"."""
    return (f"{words} {', '.join(f'{acc:.2f}' for acc in accs)}% (mean {statistics.mean(accs):.2f}%, "
            f"from {min(accs):.2f}% to {max(accs):.2f}%)")
