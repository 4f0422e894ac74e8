"""Every output is written beside its destination and renamed into place, so a crash or a
full disk mid-write leaves the earlier file whole, never half a file."""
import contextlib
import os
from pathlib import Path


@contextlib.contextmanager
def replaced_atomically(path):
    """Yield a temporary path in path's folder (same suffix, for writers that read it);
    rename it onto path if the block succeeds, delete it if it fails."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path, text):
    with replaced_atomically(path) as tmp:
        tmp.write_text(text)
    return Path(path)
