"""How far each smoke run's settings (config.QUICK) sit from divergence, on this machine's kernels.

    python -m common.margin --skip-checksum                  # the real images, this CPU's kernels
    ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 python -m common.margin --skip-checksum
    ATEN_CPU_CAPABILITY=default python -m common.margin --skip-checksum

Each run of a smoke run (the baseline, the three dropout runs, each 1.3.7 recipe) is trained
on the smoke run's subset with its quick settings at 1x, 2x and 3x their learning rate; a
line per training gives whether the loss stayed finite and the final validation accuracy.
The tests ask for 2x on every kernel family; 3x here is the margin kept for CPUs nobody
tested. Speed and kernels differ between CPUs, so each table names the kernel family.
"""
import argparse
import time

from . import cli
from .config import QUICK, RECIPES, REPORT_RUNS

MULTIPLES = (1, 2, 3)


def quick_runs():
    """(name, settings) of every training a smoke run makes, its quick settings applied."""
    runs = [
        (
            name,
            cli.recipe_config(run.settings, QUICK["dropout" if name.startswith("dropout") else "baseline"]),
        )
        for name, run in REPORT_RUNS.items()
        if run.script != "q1_3_improve"
    ]
    return runs + [(name, cli.recipe_config(recipe, QUICK[name])) for name, recipe in RECIPES.items()]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=cli.HelpFormatter)
    cli.add_data_flags(parser)
    parser.add_argument("--seed", type=int, default=0, help="the subset's, the split's and the model's seed")
    parser.add_argument("--runs", nargs="+", metavar="NAME",
                        help="only these runs (baseline, 'dropout 0.5', student, bn_onecycle, best)")
    parser.add_argument("--multiples", nargs="+", type=float, default=MULTIPLES, metavar="X",
                        help="multiples of each run's quick learning rate to train at")
    args = parser.parse_args()
    # Heavy imports after parsing: --help answers at once.
    from dataclasses import replace

    import torch

    from .config import QUICK_VAL
    from .data import load_cifar10, subset_and_split, to_device
    from .errors import Diverged
    from .train import train
    device = torch.device("cpu")
    # The smoke runs' data: the quick subset and split, as `--quick` draws them.
    data, train_idx, val_idx = subset_and_split(load_cifar10(args.data_dir, args.offline, args.skip_checksum),
                                                seed=args.seed, val_size=QUICK_VAL, quick=True)
    tensors = to_device(data, train_idx, val_idx, device)
    print(f"torch {torch.__version__}, CPU kernels {torch.backends.cpu.get_cpu_capability()}, "
          f"{torch.get_num_threads()} threads; {len(train_idx)} training and {len(val_idx)} validation "
          f"images from {args.data_dir}, seed {args.seed}")
    print(f"{'run':<12} {'lr':>8} {'x':>4}  {'outcome':<22} {'final val':>9} {'seconds':>8}")
    for name, cfg in quick_runs():
        if args.runs and name not in args.runs:
            continue
        for multiple in args.multiples:
            trial = replace(cfg, lr=multiple * cfg.lr, seed=args.seed)
            start = time.perf_counter()
            try:
                result = train(trial, tensors, device, log=lambda *_: None)[0]
                outcome, accuracy = "finite loss", f"{result['history']['val_acc'][-1]:.1f}%"
            except Diverged as stop:
                outcome, accuracy = f"DIVERGED in epoch {stop.epoch}", "-"
            print(f"{name:<12} {trial.lr:>8.4g} {multiple:>4g}  {outcome:<22} {accuracy:>9} "
                  f"{time.perf_counter() - start:>8.1f}")


if __name__ == "__main__":
    cli.run(main)
