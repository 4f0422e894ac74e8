"""1.3.7's ablation tables: each recipe with one change undone, from figures/ablation/*/."""
import statistics

from ..config import RECIPES, TrainConfig, as_words, differences
from ..results import ablation_runs, read_record

def section_ablation(out):
    """1.3.7: each recipe with one change undone, from figures/ablation/*/q1_3_improve.json."""
    lines = []
    for recipe in ("best", "bn_onecycle"):
        # an ablation folder holds one run: its command's machine is the run's
        rows = [
            (
                name,
                record,
                run if run.get("env") else {**run, "env": record.get("env") or {}},
                changes(run, recipe),
            )
            for name, record, run in ablation_runs(out, recipe, quick=None)
        ]
        own = read_record(out / "q1_3_improve.json")
        run = ((own or {}).get("runs") or {}).get(recipe)
        if rows and isinstance(run, dict) and "train_config" in run:
            rows.append((f"the {recipe} recipe (above)", own, run, changes(run, recipe)))
        if rows:
            lines += _ablation_table(recipe, rows)
    return lines


def changes(run, recipe):
    """Where a run's settings differ from recipe's as the code defines it now, in words."""
    return as_words(differences(run["train_config"], TrainConfig(**RECIPES[recipe])))


def _ablation_table(recipe, rows):
    rows.sort(key=lambda row: (-row[2]["train_config"]["epochs"], bool(row[3]), row[0]))
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
    for name, record, run, changes in rows:
        name += " **(QUICK)**" if record.get("quick") else ""
        env = run.get("env") or {}
        kernels = (
            f"{env['cpu_capability']}, {env['threads']}" if env.get("cpu_capability") else "not recorded"
        )
        plain_views = run.get("final_test_acc_without_tta")
        lines.append(
            f"| {name} | {', '.join(changes) or 'none: the recipe'} | {run['train_config']['epochs']} | "
            f"{run['final_test_acc']:.2f} | {'-' if plain_views is None else f'{plain_views:.2f}'} | "
            f"{run['best_val_acc']:.2f} | {statistics.median(run['history']['seconds']):.1f} | {kernels} |"
        )
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
                      f"{_accuracies_words('final test', [run['final_test_acc'] for _, run in seeds])}; "
                      f"{_accuracies_words('best validation', [run['best_val_acc'] for _, run in seeds])}."]
    return lines + [""]


def _accuracies_words(words, accs):
    """"final test 88.00, 87.00% (mean 87.50%, from 87.00% to 88.00%)"."""
    return (f"{words} {', '.join(f'{acc:.2f}' for acc in accs)}% (mean {statistics.mean(accs):.2f}%, "
            f"from {min(accs):.2f}% to {max(accs):.2f}%)")
