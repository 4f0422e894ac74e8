"""python -m common.figures [FOLDER]: redraw every figure under FOLDER (figures/ by default) from
its JSON records, without training. The work is common.reporting.figures's."""
from .reporting.figures import main

if __name__ == "__main__":
    main()
