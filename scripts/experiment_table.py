"""README.md's verdict table, from the newest finished run of each experiment under a runs folder (the table
`alignlab catalog --table-only` writes to <out>/catalog.md).

    .venv/bin/python scripts/experiment_table.py runs/            # print the table
    .venv/bin/python scripts/experiment_table.py runs/ --readme   # keep docs/catalog.json and README.md's table
"""

import argparse
import json
from pathlib import Path

from alignlab.experiments.table import catalog_records, render_table, write_readme_table

ROOT = Path(__file__).resolve().parent.parent

if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("runs", type=Path, nargs="?", default=Path("runs"))
    parser.add_argument("--readme", action="store_true", help="write docs/catalog.json and README.md's table")
    args = parser.parse_args()
    records = catalog_records(args.runs)
    if not args.readme:
        print(render_table(records), end="")
    else:
        (ROOT / "docs").mkdir(exist_ok=True)
        (ROOT / "docs" / "catalog.json").write_text(json.dumps(records, indent=1, ensure_ascii=False) + "\n")
        readme = ROOT / "README.md"
        readme.write_text(write_readme_table(readme.read_text(encoding="utf-8"), records), encoding="utf-8")
        print(f"wrote docs/catalog.json ({len(records)} experiments) and README.md's table")
