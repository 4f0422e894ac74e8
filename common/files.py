"""Every output is written beside its destination and renamed into place, so a crash or a
full disk mid-write leaves the earlier file whole, never half a file; a write that fails
says which file, why and what to do. Files that several runs update are changed under a
lock on their folder, so runs that finish together all keep their results."""
import contextlib
import errno
import json
import math
import os
import shutil
from pathlib import Path

from .errors import OutputError

LOCK_NAME = ".lock"


@contextlib.contextmanager
def replaced_atomically(path):
    """Yield a temporary path in path's folder (same suffix, for writers that read it);
    rename it onto path if the block succeeds, delete it if it fails. A failure to write
    becomes an OutputError naming path."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.partial{os.getpid()}{path.suffix}")
    try:
        try:
            yield tmp
            os.replace(tmp, path)
        except OSError as err:
            raise OutputError(cannot_write(path, err)) from None
        except RuntimeError as err:  # torch.save reports a full disk as "[enforce fail ...] unexpected pos"
            if not any(sign in str(err) for sign in ("enforce fail", "PytorchStreamWriter")):
                raise
            raise OutputError(cannot_write(path, err)) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def cannot_write(path, err):
    """One paragraph: the file, the cause, the fix; the earlier file is intact."""
    code = getattr(err, "errno", None)
    if code is None:  # torch's own writer carries no errno: look at the disk
        free = _free_bytes(path.parent)
        code = errno.ENOSPC if free is not None and free < 64 << 20 else None
    causes = {
        errno.ENOSPC: (
            "no space is left on that disk",
            "free some space there, or point --out or --checkpoint-dir at another disk",
        ),
        errno.EDQUOT: ("your disk quota is used up", "free some space, or write elsewhere"),
        errno.EACCES: ("you may not write in that folder", "pass a folder you can write to"),
        errno.EPERM: ("you may not write in that folder", "pass a folder you can write to"),
        errno.EROFS: ("that disk is read-only", "pass a folder on a writable disk"),
        errno.ENOTDIR: (
            "a part of that path is a file, not a folder",
            "move that file away, or choose another folder",
        ),
        errno.EISDIR: (
            "a folder stands where the file should go",
            "move that folder away, or write elsewhere",
        ),
        errno.EEXIST: (
            "a file stands where a folder should go",
            "move that file away, or choose another folder",
        ),
    }
    cause, fix = causes.get(code, (f"{type(err).__name__}: {' '.join(str(err).split())[:200]}",
                                   "check that the folder exists and can be written to, then rerun"))
    return (
        f"Could not write {path}: {cause}. Any earlier version of that file is left as it was, and "
        f"nothing partial was left beside it. To go on, {fix}; then rerun the same command (with --resume "
        f"for a training run, which goes on from its last saved epoch)."
    )


def _free_bytes(folder):
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def make_folder(path):
    """mkdir -p, with a failure said as an OutputError."""
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(cannot_write(Path(path), err)) from None
    return Path(path)


def write_text(path, text):
    with replaced_atomically(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def strict(value):
    """value with every float that is not finite replaced by None: JSON has no NaN."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    return value


def write_json(path, obj, default=None):
    """Strict JSON (null where a number does not exist), readable by any parser."""
    plain = json.loads(json.dumps(obj, default=default)) if default else obj
    return write_text(path, json.dumps(strict(plain), indent=1, allow_nan=False) + "\n")


@contextlib.contextmanager
def locked(folder):
    """Hold an exclusive lock on folder (a file .lock in it) while a block reads, changes
    and writes the files there that several runs update. Blocks until the lock is free."""
    folder = make_folder(folder)
    path = folder / LOCK_NAME
    try:
        handle = open(path, "a+")
    except OSError as err:
        raise OutputError(cannot_write(path, err)) from None
    with handle:
        _lock(handle)
        try:
            yield folder
        finally:
            _unlock(handle)


try:
    import fcntl

    def _lock(handle):
        fcntl.flock(handle, fcntl.LOCK_EX)

    def _unlock(handle):
        fcntl.flock(handle, fcntl.LOCK_UN)
except ImportError:  # Windows
    import msvcrt
    import time

    def _lock(handle):
        while True:
            try:
                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
                return
            except OSError:
                time.sleep(0.1)

    def _unlock(handle):
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
