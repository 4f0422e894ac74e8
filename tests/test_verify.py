"""python -m common.verify: a record this code made matches its replay; an altered one does not."""
import json
import subprocess
import sys

import pytest

from common import verify
from conftest import REPO, run_script


@pytest.fixture(scope="module")
def smoke_record(cifar_root, tmp_path_factory):
    """A one-epoch smoke run of the baseline: its record and the data it trained on."""
    out = tmp_path_factory.mktemp("verify")
    done = run_script("q1_3_train.py", "--quick", "--epochs", "1", "--device", "cpu", "--data-dir",
                      cifar_root, "--skip-checksum", "--out", out / "run", "--checkpoint-dir", out / "ckpt")
    assert done.returncode == 0, done.stderr
    return out / "run" / "q1_3_train.json"


def run_verify(record, cifar_root):
    return subprocess.run([sys.executable, "-m", "common.verify", str(record), "--data-dir", str(cifar_root),
                           "--skip-checksum"], cwd=REPO, capture_output=True, text=True, timeout=600)


def altered(record, tmp_path, change):
    saved = json.loads(record.read_text())
    change(saved)
    path = tmp_path / "q1_3_train.json"
    path.write_text(json.dumps(saved))
    return path


@pytest.mark.e2e
def test_an_unaltered_smoke_record_matches_its_replay(smoke_record, cifar_root):
    done = run_verify(smoke_record, cifar_root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "verdict: matches\n" in done.stdout and "1 run: 1 matches" in done.stdout
    assert "keeps no" not in done.stdout  # a new record keeps its kernels, threads and fingerprint


@pytest.mark.e2e
def test_a_record_whose_first_logged_loss_was_altered_by_1_percent_does_not_match(
        smoke_record, cifar_root, tmp_path):
    def one_percent_more(saved):
        saved["steps"][0]["loss"] *= 1.01
    done = run_verify(altered(smoke_record, tmp_path, one_percent_more), cifar_root)
    assert done.returncode == 1
    assert "verdict: does not match" in done.stdout and "1 run: 1 does not match" in done.stdout


@pytest.mark.e2e
def test_a_record_of_other_data_is_said_to_be_so_and_not_called_a_mismatch(smoke_record, cifar_root,
                                                                          tmp_path):
    def other_images(saved):
        saved["data"]["fingerprint"]["train"] = "0" * 16
        saved["steps"][0]["loss"] *= 1.5
    done = run_verify(altered(smoke_record, tmp_path, other_images), cifar_root)
    assert done.returncode == 0 and "on other data: not judged" in done.stdout


@pytest.mark.e2e
def test_an_older_record_says_what_it_lacks(smoke_record, cifar_root, tmp_path):
    """Threads read from the machine words, the family judged as this machine's, the lack said."""
    threads = json.loads(smoke_record.read_text())["env"]["threads"]

    def older(saved):
        del saved["data"]["fingerprint"]
        saved["env"] = {"python": "3.11.7", "torch": "2.14.1",
                        "device": f"cpu (x86_64, {threads} thread{'s' if threads != 1 else ''})"}
    done = run_verify(altered(smoke_record, tmp_path, older), cifar_root)
    assert "keeps no kernel family, no data fingerprint" in done.stdout
    assert "kernels not recorded (judged as" in done.stdout
    assert "verdict: matches\n" in done.stdout


@pytest.mark.parametrize("difference, same_machine, expected", [
    (0.0, True, verify.MATCHES), (verify.SAME_KERNELS, True, verify.MATCHES),
    (verify.SAME_KERNELS, False, verify.WITHIN_SPREAD), (verify.KERNEL_SPREAD, True, verify.WITHIN_SPREAD),
    (verify.KERNEL_SPREAD * 1.01, True, verify.NO_MATCH), (0.023, False, verify.NO_MATCH),
])
def test_the_verdict_at_its_thresholds(difference, same_machine, expected):
    assert verify.verdict(difference, same_machine) == expected


@pytest.mark.e2e
def test_a_path_that_is_no_record_is_one_paragraph(cifar_root, tmp_path):
    done = subprocess.run([sys.executable, "-m", "common.verify", str(tmp_path / "nothing.json"),
                           "--data-dir", str(cifar_root), "--skip-checksum"], cwd=REPO, capture_output=True,
                          text=True)
    assert done.returncode == 2 and done.stderr.startswith("error: ") and "Traceback" not in done.stderr
