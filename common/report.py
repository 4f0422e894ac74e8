"""python -m common.report [FOLDER]: rebuild FOLDER/REPORT.md (figures/ by default, with README's
blocks) from the JSON records there; nothing is trained. The work is common.reporting.page's."""
from .reporting.page import main

if __name__ == "__main__":
    main()
