"""figures/REPORT.md, rebuilt from whichever result JSON files are present."""


def write_report(out):
    pass
