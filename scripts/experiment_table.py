"""Print README.md's experiment table from the newest finished run of each experiment under a runs folder
(the same table `alignlab catalog --table-only` writes to <out>/catalog.md).

    .venv/bin/python scripts/experiment_table.py runs/
"""

import sys
from pathlib import Path

from alignlab.experiments.table import catalog_table

if __name__ == "__main__":
    print(catalog_table(Path(sys.argv[1] if len(sys.argv) > 1 else "runs")), end="")
