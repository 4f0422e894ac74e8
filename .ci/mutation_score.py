"""After `mutmut run`: the score to tests/mutation/score.json, and every surviving mutant
checked against tests/mutation/survivors.md, where each has a line saying why it changes no
output. Exit 1 when one is unexplained or fewer than 90% of the mutants are killed."""
import json
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GOAL = 0.90

stats = json.loads((REPO / "mutants" / "mutmut-cicd-stats.json").read_text())
listing = subprocess.run(["mutmut", "results", "--all", "true"], cwd=REPO, capture_output=True,
                         text=True).stdout
survived = sorted(re.findall(r"^\s*(\S+): survived", listing, flags=re.M))
survivors_md = (REPO / "tests" / "mutation" / "survivors.md").read_text()
explained = set(re.findall(r"^- `([^`]+)`", survivors_md, flags=re.M))
tried = stats["total"] - stats.get("skipped", 0)
score = {"mutants": tried, "killed": stats["killed"], "survived": stats["survived"],
         "no_tests": stats.get("no_tests", 0), "timeout": stats.get("timeout", 0),
         "killed_share": round(stats["killed"] / tried, 4)}
(REPO / "tests" / "mutation" / "score.json").write_text(json.dumps(score, indent=1) + "\n")
print(f"mutation check: {score['killed']} of {tried} mutants killed ({score['killed_share']:.1%}), "
      f"{score['survived']} survived, {score['no_tests']} reached by no test")
unexplained = [name for name in survived if name not in explained]
for name in unexplained:
    print(f"unexplained survivor: {name} (`mutmut show {name}`); kill it with a test, or say in "
          f"tests/mutation/survivors.md why it changes no output")
sys.exit(1 if unexplained or score["killed_share"] < GOAL else 0)
