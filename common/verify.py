"""Check that a committed result came from this code: train the start of each recorded run again,
with its recorded settings, seed, split and reading, and compare the 200-step log with the record.

    python -m common.verify                                         # every full run under figures/
    python -m common.verify figures/q1_3_train.json figures/sheet/q1_3_dropout.json

A run's verdict, from the largest difference of its logged losses (the accuracies are shown too):
  matches            the machine replays with the record's kernel family and threads, and the losses
                     differ at float noise (at most SAME_KERNELS);
  matches within the spread another kernel family gives
                     otherwise, within KERNEL_SPREAD: what replaying the committed records on the
                     other kernel families measured (see KERNEL_SPREAD);
  does not match     beyond that: the record did not come from this code, these settings and data.
A run whose data's fingerprint differs from the record's (another copy of CIFAR-10) is said to be on
other data and not judged. The exit status is 1 when a run does not match.
"""
import argparse
import os
import re
import sys
import time
from pathlib import Path

import torch

from . import cli
from .config import REPO, TrainConfig
from .data import fingerprint, load_cifar10, subset_and_split, to_device
from .errors import DataError, UsageError
from .results import read_record, runs_of
from .train import replay

# The thresholds on the largest difference of a logged loss (each the mean over 200 steps), measured
# by replaying the first two logged points of figures/q1_3_train.json and figures/sheet/q1_3_dropout.json
# (2026-12-04, torch 2.14.1, a 2-core AVX-512 machine). On the records' own family and threads
# (AVX512, 1 thread) the differences were 1.3e-5, 9.5e-6 and 3.1e-4 (p = 0.8 at step 400: the order
# of a sum in another CPU model of the family moves the last digits, and dropout's masks amplify
# them); SAME_KERNELS is three times the largest. On the other families they were at most 1.7e-4
# (ATEN_CPU_CAPABILITY=avx2), 2.0e-4 (the same with ONEDNN_MAX_CPU_ISA=AVX2) and 2.7e-4
# (ATEN_CPU_CAPABILITY=default); KERNEL_SPREAD is seven times the largest. A loss altered by 1%
# (0.023 at step 200) is ten times beyond it.
SAME_KERNELS = 1e-3
KERNEL_SPREAD = 2e-3
MATCHES, WITHIN_SPREAD, NO_MATCH, OTHER_DATA = (
    "matches", "matches within the spread another kernel family gives", "does not match",
    "on other data: not judged")
DEFAULT_POINTS = 2
OWN_THREADS = torch.get_num_threads()  # before any replay sets a record's


def records_in(paths):
    """The record files the arguments name: a file as it is, a folder's q1_3_*.json at any depth;
    without arguments, every full run's record under figures/."""
    if not paths:
        return [p for p in sorted((REPO / "figures").rglob("q1_3_*.json")) if read_record(p, quick=False)]
    found = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(path.rglob("q1_3_*.json"))
        elif path.is_file():
            found.append(path)
        else:
            raise UsageError(f"{path} is neither a record (a q1_3_*.json file) nor a folder of them; pass "
                             f"records such as figures/q1_3_train.json, or a folder such as figures/.")
    return found


def settings_of(record, run):
    """The run's TrainConfig: its train_config, with the split and seed its record's command line
    gave where an older train_config lacks them."""
    config = record.get("config", {})
    given = {k: config[k] for k in ("seed", "val_size", "val_split") if k in config}
    return TrainConfig.from_record({**given, **run["train_config"]})


def machine_of(run, record):
    """(kernel family, threads) the run recorded, each None where the record predates it (an older
    record names its threads in its machine words only: "cpu (x86_64, 2 threads)")."""
    env = run.get("env") or record.get("env") or {}
    words = re.search(r"(\d+) threads?\)", env.get("device", ""))
    return env.get("cpu_capability"), env.get("threads") or (int(words.group(1)) if words else None)


def verdict(difference, same_machine):
    if difference <= SAME_KERNELS and same_machine:
        return MATCHES
    return WITHIN_SPREAD if difference <= KERNEL_SPREAD else NO_MATCH


class Copies:
    """CIFAR-10 loaded once, and each run's tensors (subset, split) built from it."""

    def __init__(self, data_dir, skip_checksum):
        self.data = load_cifar10(data_dir, offline=True, skip_checksum=skip_checksum)

    def of(self, record, cfg):
        data, train_idx, val_idx = subset_and_split(self.data, seed=cfg.seed, val_size=cfg.val_size,
                                                    val_split=cfg.val_split, quick=bool(record.get("quick")))
        return to_device(data, train_idx, val_idx, torch.device("cpu")), fingerprint(data, train_idx, val_idx)


def verify_run(path, key, record, run, copies, points, log=print):
    """Replay one run; returns its verdict, printing what was compared."""
    cfg = settings_of(record, run)
    family, threads = machine_of(run, record)
    recorded = (record.get("data") or {}).get("fingerprint")
    missing = [what for what, value in (("kernel family", family), ("threads", threads),
                                         ("data fingerprint", recorded)) if value is None]
    here = torch.backends.cpu.get_cpu_capability()
    # The record's threads where it names them, else this process's own: never the last run's.
    torch.set_num_threads(min(threads or OWN_THREADS, os.cpu_count() or 1))
    name = f"{path}, {key} (seed {cfg.seed})"
    tensors, prints = copies.of(record, cfg)
    if recorded and recorded != prints:
        log(f"{name}: {OTHER_DATA} (the record's images have fingerprint {recorded['train']}, these "
            f"{prints['train']}: another copy of CIFAR-10, so its numbers may differ for that reason alone)")
        return OTHER_DATA
    wanted = run["steps"][:points]
    started = time.perf_counter()
    log(f"{name}: replaying {len(wanted) * cfg.log_every} steps on {here} kernels, "
        f"{torch.get_num_threads()} thread{'s' if torch.get_num_threads() != 1 else ''}")
    got = replay(cfg, tensors, torch.device("cpu"), len(wanted), log=lambda line: log("  " + line))
    loss_gap = max(abs(a["loss"] - b["loss"]) for a, b in zip(got, wanted))
    acc_gap = max(abs(a["acc"] - b["acc"]) for a, b in zip(got, wanted))
    # A record that names no kernel family is judged as made on this machine's: its difference says
    # whether it was (the output says the family was not recorded).
    same_machine = family in (here, None) and threads == torch.get_num_threads()
    found = verdict(loss_gap, same_machine)
    for a, b in zip(got, wanted):
        log(f"  step {b['step']}: loss {a['loss']:.6f} (record {b['loss']:.6f}), accuracy {a['acc']:.3f}% "
            f"(record {b['acc']:.3f}%)")
    made = (f"{family or 'kernels not recorded (judged as ' + here + ')'}, {threads or '?'} "
            f"thread{'s' if threads != 1 else ''}")
    log(f"  largest difference: loss {loss_gap:.2g}, accuracy {acc_gap:.3g} points; the record was made on "
        f"{made}; {time.perf_counter() - started:.0f} s")
    if missing:
        log(f"  the record keeps no {', no '.join(missing)} (made before the package kept them)")
    log(f"  verdict: {found}")
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("records", nargs="*", help="records (q1_3_*.json) or folders of them; default: every "
                        "full run under figures/")
    parser.add_argument("--points", type=cli.positive_int, default=DEFAULT_POINTS,
                        help="how many points of each run's 200-step log to replay")
    cli.add_data_flags(parser)
    args = parser.parse_args(argv)
    copies = Copies(args.data_dir, args.skip_checksum)
    verdicts = []
    for path in records_in(args.records):
        record = read_record(path)
        if record is None:
            raise DataError(f"{path} is not a record this package can read (damaged, or not its JSON); "
                            f"pass the q1_3_*.json files a script wrote.")
        for key, run in runs_of(record).items():
            if not run.get("steps") or not run.get("train_config"):
                print(f"{path}, {key}: no 200-step log or settings in the record: nothing to replay")
                continue
            verdicts.append(verify_run(path, key, record, run, copies, args.points))
    counts = {v: verdicts.count(v) for v in (MATCHES, WITHIN_SPREAD, NO_MATCH, OTHER_DATA) if v in verdicts}
    print(f"{len(verdicts)} run{'s' if len(verdicts) != 1 else ''}: "
          + ", ".join(f"{n} {v}" for v, n in counts.items()))
    if NO_MATCH in verdicts:
        sys.exit(1)


if __name__ == "__main__":
    cli.run(main)
