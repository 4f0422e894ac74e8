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


class SeedGroup(NamedTuple):
    """Runs of an ablation table that differ only in seed: what they differ from the recipe in
    (none: the recipe itself), and [(seed, run)] in seed order."""

    changes: list
    seeds: list


def ablation_rows(out, recipe):
    """[AblationRow] of recipe's ablation table: every run under ablation/ of it, and the recipe's
    own run here when there are any; the longest runs first, the recipe itself first among them."""
    out = Results.of(out)
    # an ablation folder holds one run: its command's machine is the run's
    rows = [AblationRow(name=each.name, record=each.record, changes=changes(each.run, recipe),
                        run={**each.run, "env": each.run.get("env") or each.record.get("env") or {}})
            for each in out.ablation_runs(recipe, quick=None)]
    own = out.record("q1_3_improve")
    run = ((own or {}).get("runs") or {}).get(recipe)
    if rows and isinstance(run, dict) and "train_config" in run:
        rows.append(AblationRow(f"the {recipe} recipe (above)", own, run, changes(run, recipe)))
    return sorted(rows, key=lambda row: (-row.run["train_config"]["epochs"], bool(row.changes), row.name))


def seed_groups(rows):
    """[SeedGroup] of two or more full runs among rows that differ only in seed: the recipe's own
    seeds, and those of a shortened recipe (whose ablation rows they are the yardstick of)."""
    groups = {}
    for row in rows:
        if not row.record.get("quick"):
            same = [(k, v) for k, v in row.changes if k != "seed"]
            group = groups.setdefault(repr(same), SeedGroup(same, []))
            group.seeds.append((row.run["train_config"].get("seed", 0), row.run))
    return [SeedGroup(group.changes, sorted(group.seeds, key=lambda seed_run: seed_run[0]))
            for group in groups.values() if len(group.seeds) >= 2]


def section_ablation(out):
    """1.3.7: each recipe with one change undone, from figures/ablation/*/q1_3_improve.json."""
    return [line for recipe in ABLATED for line in _ablation_table(recipe, ablation_rows(out, recipe))]


def changes(run, recipe):
    """[(setting, value)] where a run's settings differ from recipe's as the code defines it now."""
    return differences(run["train_config"], TrainConfig(**RECIPES[recipe]))


def _ablation_table(recipe, rows):
    if not rows:
        return []
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
    for group in seed_groups(rows):
        same, seeds = as_words(group.changes), group.seeds
        lines += ["", f"The {recipe} recipe{' with ' + ', '.join(same) if same else ''} over seeds "
                      f"{', '.join(str(seed) for seed, _ in seeds)}: "
                      f"{_accuracies_words('final test', [run['final_test_acc'] for _, run in seeds])}; "
                      f"{_accuracies_words('best validation', [run['best_val_acc'] for _, run in seeds])}."]
    return lines + [""]


def _accuracies_words(words, accs):
    """"final test 88.00, 87.00% (mean 87.50%, from 87.00% to 88.00%)"."""
    return (f"{words} {', '.join(f'{acc:.2f}' for acc in accs)}% (mean {statistics.mean(accs):.2f}%, "
            f"from {min(accs):.2f}% to {max(accs):.2f}%)")
