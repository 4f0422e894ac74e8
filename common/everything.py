"""Every question in order, each script's time printed: the whole report in one command.

    python -m common.everything --device cuda --out figures/gpu      # on a GPU
    python -m common.everything --quick --skip-checksum --out /tmp/smoke

Other flags go to every script unchanged (say, --data-dir data --skip-checksum). Each
script writes its JSON and figures into --out and rebuilds REPORT.md there; the times are
printed as they finish and kept in <out>/everything.json.
"""
import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from . import cli
from .files import write_text

REPO = Path(__file__).resolve().parent.parent
# The README's order: data, model, baseline, dropout sweep (1.3.6 included), the student's
# recipe, then the best one.
COMMANDS = [["q1_1_data.py"], ["q1_2_model.py"], ["q1_3_train.py"], ["q1_3_dropout.py"],
            ["q1_3_improve.py", "--recipe", "student"], ["q1_3_improve.py", "--recipe", "best"]]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=cli.HelpFormatter)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--out", default="figures", help="where every script writes")
    parser.add_argument("--quick", action="store_true", help="each script's smoke run")
    parser.add_argument("--checkpoint-dir", default="checkpoints", help="where the training scripts keep checkpoints")
    args, passed_on = parser.parse_known_args()
    cli.pick_device(args.device)  # a missing GPU is a clear error before anything runs
    Path(args.out).mkdir(parents=True, exist_ok=True)
    times, started = [], time.perf_counter()
    for command in COMMANDS:
        training = command[0].startswith("q1_3")
        line = [sys.executable, str(REPO / command[0]), *command[1:], "--device", args.device, "--out", args.out,
                *(["--quick"] if args.quick else []),
                *(["--checkpoint-dir", str(Path(args.checkpoint_dir).resolve())] if training else []), *passed_on]
        print(f"$ {' '.join(command)}", flush=True)
        begun = time.perf_counter()
        done = subprocess.run(line, cwd=REPO)
        seconds = time.perf_counter() - begun
        times.append({"command": " ".join(command), "seconds": round(seconds, 1), "returncode": done.returncode})
        print(f"{' '.join(command)}: {seconds:.1f} s" + ("" if done.returncode == 0 else
                                                          f" (failed, exit {done.returncode})"), flush=True)
        if done.returncode != 0:
            break
    total = time.perf_counter() - started
    print(f"every question: {total:.1f} s")
    write_text(Path(args.out) / "everything.json",
               json.dumps({"device": args.device, "quick": args.quick, "scripts": times,
                           "seconds": round(total, 1)}, indent=1) + "\n")
    if any(t["returncode"] != 0 for t in times):
        sys.exit(1)


if __name__ == "__main__":
    cli.run(main)
