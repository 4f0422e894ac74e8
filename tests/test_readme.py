"""README's map of the code names only paths that exist."""
import re

from conftest import REPO


def test_every_path_in_the_code_map_exists():
    readme = (REPO / "README.md").read_text()
    block = readme.split("<!-- code map:")[1].split("<!-- end code map -->")[0]
    paths = re.findall(r"`([^`]+)`", block)
    paths = [p for p in paths if "/" in p or p.endswith(".py")]
    assert len(paths) >= 15
    for path in paths:
        if "*" in path:
            assert list(REPO.glob(path)), f"README's code map names {path}, which matches no file"
        else:
            assert (REPO / path).exists(), f"README's code map names {path}, which does not exist"
    rows = [line for line in block.splitlines() if line.startswith("| `")]
    assert 10 <= len(rows) <= 15  # a map a newcomer reads at once
