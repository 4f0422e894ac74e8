"""Files from elsewhere are data, never code; downloads and writes never leave half a file.

Hostile batch files and checkpoints run nothing; damaged ones end in one paragraph; the
download runs through torchvision's own code against a server on 127.0.0.1; every output
is renamed into place, so a failed write leaves the earlier file whole.
"""
import hashlib
import http.server
import io
import json
import os
import pickle
import socket
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from common import data as cifar
from common.data import load_cifar10, unpickle_batch
from common.errors import DataError, OutputError
from common.files import write_text
from conftest import run_script, write_synthetic_cifar


class RunsACommand:
    """Unpickling this runs `touch <marker>`: what a hostile file would do."""
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


# Batch files: the restricted unpickler.

def test_python2_dialect_loads_with_latin1_and_bytes(real_root):
    """The original files and ../shared/cifar10's are Python 2 cPickle: str keys under
    latin1, bytes keys under bytes, as with plain pickle."""
    path = real_root / "cifar-10-batches-py" / "test_batch"
    as_text, as_bytes = unpickle_batch(path), unpickle_batch(path, encoding="bytes")
    assert as_text["data"].dtype == np.uint8 and as_text["data"].shape == (10000, 3072)
    assert np.array_equal(as_text["data"], as_bytes[b"data"]) and as_text["labels"] == as_bytes[b"labels"]


def test_python3_dialect_loads_with_latin1_and_bytes(fresh_cifar_root):
    path = fresh_cifar_root / "cifar-10-batches-py" / "data_batch_1"
    as_text, as_bytes = unpickle_batch(path), unpickle_batch(path, encoding="bytes")
    assert as_text["data"].dtype == np.uint8 and as_text["data"].shape == (100, 3072)
    assert np.array_equal(as_text["data"], as_bytes["data"])


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_every_pickle_protocol_of_a_plain_batch_loads(tmp_path, protocol):
    entry = {"data": np.arange(2 * 3072).astype(np.uint8).reshape(2, 3072), "labels": [1, 2],
             "batch_label": "b", "filenames": [b"a.png", b"b.png"]}
    (tmp_path / "b").write_bytes(pickle.dumps(entry, protocol=protocol))
    assert np.array_equal(unpickle_batch(tmp_path / "b")["data"], entry["data"])


@pytest.mark.e2e
def test_hostile_batch_runs_nothing_and_is_refused(fresh_cifar_root, tmp_path):
    marker = tmp_path / "ran"
    path = fresh_cifar_root / "cifar-10-batches-py" / "data_batch_1"
    path.write_bytes(pickle.dumps({"data": RunsACommand(marker), "labels": [0]}, protocol=2))
    result = run_script(
        "q1_1_data.py", "--data-dir", fresh_cifar_root, "--skip-checksum", "--out", tmp_path / "out"
    )
    assert result.returncode == 2 and not marker.exists()
    assert "data_batch_1 was refused: it asks to build posix.system" in result.stderr
    assert "nothing in it was run" in result.stderr and "Traceback" not in result.stderr


def test_a_batch_of_objects_is_refused(tmp_path):
    (tmp_path / "b").write_bytes(pickle.dumps({"data": np.array([object()] * 3), "labels": [0]}, protocol=2))
    with pytest.raises(DataError, match="refused: .*(object|copyreg|whole numbers)"):
        cifar._load_batch(tmp_path / "b")


# Checkpoints: weights_only, and every damage gets a message.

def quick_train(root, out, *extra):
    return run_script("q1_3_train.py", "--data-dir", root, "--skip-checksum", "--quick", "--epochs", "1",
                      "--out", out, "--checkpoint-dir", out / "ckpt", *extra)


@pytest.fixture(scope="module")
def trained(cifar_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("trained")
    result = quick_train(cifar_root, out)
    assert result.returncode == 0, result.stderr
    return out


def damaged_checkpoints(marker, good):
    state = torch.load(good, weights_only=True)
    older = {k: v for k, v in state.items() if k != "shuffle_rng"}
    return {
        "hostile": pickle.dumps({"config": RunsACommand(marker)}),
        "truncated": good.read_bytes()[:2000],
        "not a checkpoint": b"hello, not a torch file",
        "another program's": _saved({"weights": torch.zeros(3)}),
        "an older layout": _saved(older),
    }


def _saved(obj):
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


@pytest.mark.e2e
@pytest.mark.parametrize(
    "kind", ["hostile", "truncated", "not a checkpoint", "another program's", "an older layout"]
)
def test_damaged_checkpoint_ends_in_a_message_and_stays(trained, cifar_root, tmp_path, kind):
    marker = tmp_path / "ran"
    out = tmp_path / "run"
    (out / "ckpt").mkdir(parents=True)
    path = out / "ckpt" / "q1_3_train_quick_last.pt"
    path.write_bytes(damaged_checkpoints(marker, trained / "ckpt" / "q1_3_train_quick_last.pt")[kind])
    before = path.read_bytes()
    result = quick_train(cifar_root, out, "--resume")
    assert result.returncode == 2, result.stderr
    assert not marker.exists() and "Traceback" not in result.stderr
    assert str(path) in result.stderr and "without --resume" in result.stderr
    assert path.read_bytes() == before  # left where it was, as it was


def test_final_checkpoint_holds_only_plain_data(trained):
    for kind in ("last", "final", "best"):
        state = torch.load(trained / "ckpt" / f"q1_3_train_quick_{kind}.pt", weights_only=True)
        assert isinstance(state["config"], dict) and "model" in state


# Downloads through torchvision's code, from a server on 127.0.0.1.

def md5(path):
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """cifar-10-python.tar.gz of the synthetic set, and the MD5s of its parts."""
    root = tmp_path_factory.mktemp("archive")
    folder = write_synthetic_cifar(root / "src", per_batch=50)
    path = root / "cifar-10-python.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
    return path, {name: md5(folder / name) for name, _ in cifar.batch_files()}


class Server:
    """http.server in a thread on 127.0.0.1, serving {path: bytes}; 404 for anything else."""

    def __init__(self, files):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = files.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args):
                pass
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.timeout = 5
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def point_torchvision_at(monkeypatch, archive):
    """Make torchvision's CIFAR10 download from url with the given archive MD5."""
    path, part_md5 = archive

    def point(url, tgz_md5=None):
        monkeypatch.setattr(cifar.CIFAR10, "url", url)
        monkeypatch.setattr(cifar.CIFAR10, "tgz_md5", tgz_md5 or md5(path))
        monkeypatch.setattr(
            cifar.CIFAR10, "train_list", [[n, part_md5[n]] for n, _ in cifar.CIFAR10.train_list]
        )
        monkeypatch.setattr(
            cifar.CIFAR10, "test_list", [[n, part_md5[n]] for n, _ in cifar.CIFAR10.test_list]
        )

    return point


def test_download_verifies_unpacks_and_loads(tmp_path, archive, point_torchvision_at):
    path, _ = archive
    with Server({"/cifar-10-python.tar.gz": path.read_bytes()}) as server:
        point_torchvision_at(f"{server.url}/cifar-10-python.tar.gz")
        d = load_cifar10(tmp_path / "data")
    assert d.checksum_verified is True and d.train_images.shape == (250, 3, 32, 32)
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == [
        "cifar-10-batches-py",
        "cifar-10-python.tar.gz",
    ]


def nothing_left(root):
    return not root.exists() or not any(root.iterdir())


@pytest.mark.parametrize("case, expected", [
    ("wrong md5", "MD5 differs from the published one"),
    ("truncated", "MD5 differs from the published one"),
    ("404", "HTTP Error 404"),
])
def test_failed_download_leaves_nothing_behind(tmp_path, archive, point_torchvision_at, case, expected):
    path, _ = archive
    body = path.read_bytes()[:len(path.read_bytes()) // 2] if case == "truncated" else path.read_bytes()
    with Server({"/cifar-10-python.tar.gz": body}) as server:
        name = "/missing.tar.gz" if case == "404" else "/cifar-10-python.tar.gz"
        point_torchvision_at(server.url + name, "0" * 32 if case == "wrong md5" else None)
        with pytest.raises(DataError, match=f"Downloading CIFAR-10 .* failed .*{expected}.*--data-dir"):
            load_cifar10(tmp_path / "data")
    assert nothing_left(tmp_path / "data")
    with pytest.raises(DataError, match="--offline forbids downloading"):  # the next run is not misled
        load_cifar10(tmp_path / "data", offline=True)


def test_refused_connection_is_a_clear_message(tmp_path, point_torchvision_at):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    point_torchvision_at(f"http://127.0.0.1:{port}/cifar-10-python.tar.gz")
    (tmp_path / "data").mkdir()
    with pytest.raises(DataError, match="failed .*Connection refused"):
        load_cifar10(tmp_path / "data")
    assert (tmp_path / "data").is_dir() and nothing_left(tmp_path / "data")  # the user's folder stays


# Every output is renamed into place.

def test_a_write_that_fails_part_way_leaves_the_earlier_file(tmp_path, monkeypatch):
    path = tmp_path / "q1_3_train.json"
    write_text(path, '{"earlier": true}')

    def disk_full(self, text):
        Path.write_bytes(self, text[:5].encode())
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(Path, "write_text", disk_full)
    with pytest.raises(OutputError, match=r"Could not write .*q1_3_train.json: no space is left"):
        write_text(path, '{"later": true}')
    monkeypatch.undo()
    assert json.loads(path.read_text()) == {"earlier": True}
    assert [p.name for p in tmp_path.iterdir()] == ["q1_3_train.json"]  # no partial file left


def test_a_figure_that_fails_part_way_leaves_the_earlier_one(tmp_path, monkeypatch):
    from common.reporting import figures as plots
    path = tmp_path / "q1_3_4_loss.png"
    history = {
        "epoch": [1, 2],
        "train_loss": [2.0, 1.0],
        "val_loss": [2.1, 1.5],
        "train_acc": [1, 2],
        "val_acc": [1, 2],
    }
    plots.plot_curves(history, 2, "t", path, "loss")
    earlier = path.read_bytes()

    def crash(figure, fname, **kwargs):
        Path(fname).write_bytes(b"half a png")
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(plots._pyplot().Figure, "savefig", crash)
    with pytest.raises(OutputError, match="q1_3_4_loss.png: no space is left"):
        plots.plot_curves(history, 2, "t", path, "loss")
    assert path.read_bytes() == earlier and len(list(tmp_path.iterdir())) == 1
