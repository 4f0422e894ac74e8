"""Every question in order, each script's time printed: the whole report in one command.

    python -m common.everything --skip-checksum                       # on the CPU, into figures/
    python -m common.everything --quick --skip-checksum               # a smoke run of everything, into smoke/
    python -m common.everything --device cuda --out figures/gpu       # on a GPU
    python -m common.everything --print --seeds 1 2                   # the seed runs, one command a line

Other flags go to every script unchanged (say, --data-dir data --skip-checksum). Each
script writes its JSON and figures into --out and rebuilds REPORT.md there; the times are
printed as they finish and kept in <out>/everything.json.

--print runs nothing: it prints one command a line, every training run of the report as its
own command, so that xargs -P, GNU parallel or a job array spreads them over cores or
machines. Seed 0 is the report's own run, written to --out; each other seed's runs go to
<out>/seeds/<run>_seed<N>/, which REPORT.md reads for the spread over seeds. On a CPU, one
thread a run trains more images a second in all than threads shared:

    python -m common.everything --print --seeds 1 2 --skip-checksum \
        | OMP_NUM_THREADS=1 xargs -P 2 -I{} sh -c '{}'
"""
import argparse
import shlex
import subprocess
import sys
import time
from pathlib import Path

from . import cli
from .config import (COMMANDS, READINGS, REPO, REPORT_RUNS, SEEDS_FOLDER, as_argv, reading_folder,
                     seed_folder_name)
from .errors import OutputError, UsageError
from .files import write_json

# Every question once, in README's order (config.COMMANDS that common.everything runs).
QUESTIONS = [[f"{command.script}.py", *command.args] for command in COMMANDS if command.in_everything]
# The report's five training runs, one command each: what another seed repeats.
SEED_RUNS = {seed_folder_name(name): [f"{run.script}.py", *run.args] for name, run in REPORT_RUNS.items()}


def seed_folder(out, name, seed):
    return Path(out) / SEEDS_FOLDER / f"{name}_seed{seed}"


def reading_flags(reading):
    """The flags that make a reading's runs: ["--dropout-after", "pools_and_fc", ...]."""
    return as_argv(READINGS[reading].items())


def command_lines(out, seeds, passed_on, reading="package"):
    """Every run as one command line: seed 0's questions into out, each other seed's
    report runs into a folder of their own (with --resume, so a line run again goes on).
    Another reading's runs (all five report runs, seed 0 too) go under out/<reading>/."""
    lines, flags = [], reading_flags(reading)
    folder = reading_folder(out, reading)
    for seed in seeds:
        if seed == 0 and reading == "package":
            lines += [["python", *command, "--out", str(out), *passed_on] for command in QUESTIONS]
        else:
            lines += [["python", *command, *(["--seed", str(seed)] if seed else []),
                       "--out", str(folder if seed == 0 else seed_folder(folder, name, seed)),
                       "--resume", *flags, *passed_on] for name, command in SEED_RUNS.items()]
    return [" ".join(map(shlex.quote, line)) for line in lines]


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument(
        "--out", help="where every script writes (default: figures/, or smoke/ under --quick)"
    )
    parser.add_argument("--quick", action="store_true", help="each script's smoke run")
    parser.add_argument("--checkpoint-dir", help="where the training scripts keep checkpoints (default: "
                                                 "checkpoints/<--out>)")
    parser.add_argument(
        "--print", action="store_true", help="print every run's command, one a line, and run nothing"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0],
                        help="with --print: the seeds to list (0: the report's runs and questions)")
    parser.add_argument(
        "--reading",
        choices=sorted(READINGS),
        default="package",
        help="with --print: package (dropout after the pools, a random 5,000 validation images) or "
        "sheet (the course sheet's: dropout after the pools and fc1, the last 1,000), whose "
        "runs go under <out>/sheet/",
    )
    args, passed_on = parser.parse_known_args()
    out = args.out or cli.default_out(args.quick)
    if args.print:
        extra = (["--device", args.device] if args.device != "auto" else []) + (
            ["--quick"] if args.quick else []
        )
        print("\n".join(command_lines(out, args.seeds, extra + passed_on, args.reading)))
        return None
    cli.pick_device(args.device)  # a missing GPU is a clear error before anything runs
    if args.quick:
        cli.refuse_quick_over_full(out)
    Path(out).mkdir(parents=True, exist_ok=True)
    times, started = [], time.perf_counter()
    for command in QUESTIONS:
        training = command[0].startswith("q1_3") and args.checkpoint_dir
        line = [
            sys.executable,
            str(REPO / command[0]),
            *command[1:],
            "--device",
            args.device,
            "--out",
            out,
            *(["--quick"] if args.quick else []),
            *(["--checkpoint-dir", str(Path(args.checkpoint_dir).resolve())] if training else []),
            *passed_on,
        ]
        print(f"$ {' '.join(command)}", flush=True)
        begun = time.perf_counter()
        done = subprocess.run(line, cwd=REPO)
        seconds = time.perf_counter() - begun
        times.append(
            {"command": " ".join(command), "seconds": round(seconds, 1), "returncode": done.returncode}
        )
        print(f"{' '.join(command)}: {seconds:.1f} s" + ("" if done.returncode == 0 else
                                                          f" (failed, exit {done.returncode})"), flush=True)
        if done.returncode != 0:
            break
    total = time.perf_counter() - started
    print(f"every question: {total:.1f} s")
    write_json(Path(out) / "everything.json", {"device": args.device, "quick": args.quick, "scripts": times,
                                              "seconds": round(total, 1)})
    if any(t["returncode"] != 0 for t in times):
        sys.exit(1)


if __name__ == "__main__":
    try:
        main()
    except Exception as err:  # the errors cli.run turns into one paragraph
        if not isinstance(err, (OutputError, UsageError)):
            raise
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
