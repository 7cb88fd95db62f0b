"""An SQLite index of the runs under one output folder (``<out>/index.sqlite``), for ``alignlab runs``.

The run folders are the truth; the index is a cache of them that can always be rebuilt (``rebuild``). A run
records the process and host that run it, so a run whose process died without a word (SIGKILL, a power cut)
shows as ``interrupted`` rather than ``running`` forever.
"""

import json
import os
import socket
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from ..errors import AlignlabError
from .results import Results

SCHEMA_VERSION = 2
SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    name TEXT PRIMARY KEY,
    experiment TEXT NOT NULL,
    preset TEXT NOT NULL,
    seeds TEXT NOT NULL,            -- comma-separated
    device TEXT NOT NULL,
    status TEXT NOT NULL,           -- running | finished | failed | interrupted
    verdict TEXT,
    started_at TEXT NOT NULL,
    duration_s REAL,
    summary TEXT,
    pid INTEGER,
    host TEXT
)
"""


@dataclass(frozen=True)
class RunRecord:
    name: str
    experiment: str
    preset: str
    seeds: str
    device: str
    status: str
    verdict: str | None
    started_at: str
    duration_s: float | None
    summary: str | None


def _alive(pid: int | None, host: str | None) -> bool:
    """Whether the process that started a run may still be running it (unknown hosts count as alive)."""
    if pid is None or host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunIndex:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / "index.sqlite"

    def _connect(self) -> sqlite3.Connection:
        try:
            connection = sqlite3.connect(self.path, timeout=30)
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version != SCHEMA_VERSION:
                connection.execute("DROP TABLE IF EXISTS runs")
                connection.execute(SCHEMA)
                connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                connection.commit()
                self._fill_from_folders(connection)
            return connection
        except sqlite3.DatabaseError as e:
            raise AlignlabError(
                f"{self.path}: the run index is unreadable ({e}); rebuild it from the run folders with "
                f"`alignlab runs --out {self.root} --rebuild`"
            ) from None

    def started(
        self, name: str, experiment: str, preset: str, seeds: list[int], device: str, started_at: str
    ) -> None:
        with closing(self._connect()) as db, db:
            db.execute(
                "INSERT OR REPLACE INTO runs (name, experiment, preset, seeds, device, status, started_at, pid, host) "
                "VALUES (?,?,?,?,?,?,?,?,?)",
                (name, experiment, preset, _seeds(seeds), device, "running", started_at, os.getpid(),
                 socket.gethostname()),
            )  # fmt: skip

    def finished(self, name: str, results: Results) -> None:
        with closing(self._connect()) as db, db:
            db.execute(
                "UPDATE runs SET status='finished', verdict=?, duration_s=?, summary=? WHERE name=?",
                (results.verdict, results.duration_s, results.summary, name),
            )

    def failed(self, name: str, error: str, status: str = "failed") -> None:
        """Mark a run failed (or ``interrupted``, for Ctrl-C) with the reason."""
        with closing(self._connect()) as db, db:
            db.execute("UPDATE runs SET status=?, summary=? WHERE name=?", (status, error, name))

    def list(self) -> list[RunRecord]:
        if not self.path.exists():
            return []
        with closing(self._connect()) as db:
            rows = db.execute(
                "SELECT name, experiment, preset, seeds, device, status, verdict, started_at, duration_s, "
                "summary, pid, host FROM runs ORDER BY started_at, name"
            ).fetchall()
        records = []
        for *fields, pid, host in rows:
            record = RunRecord(*fields)
            if record.status == "running" and not _alive(pid, host):
                record = RunRecord(
                    *fields[:5], "interrupted", None, fields[7], None, "the process running it has died"
                )
            records.append(record)
        return records

    def rebuild(self) -> int:
        """Replace the index (even an unreadable one) by one read from the run folders; returns the count."""
        self.path.unlink(missing_ok=True)
        with closing(self._connect()) as db:
            return db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]

    def _fill_from_folders(self, db: sqlite3.Connection) -> None:
        for folder in sorted(p for p in self.root.iterdir() if (p / "config.json").is_file()):
            try:
                config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
                results_path = folder / "results.json"
                results = (
                    json.loads(results_path.read_text(encoding="utf-8")) if results_path.exists() else None
                )
                seeds = config.get("seeds", [config.get("seed", 0)])
                row = (
                    folder.name, config["experiment"], config["preset"], _seeds(seeds), config["device"],
                    "finished" if results else "interrupted",
                    results and results["verdict"], config.get("started_at", ""),
                    results and results.get("duration_s"),
                    results["summary"] if results else "no results.json: the run did not finish",
                )  # fmt: skip
            except (OSError, ValueError, KeyError, TypeError):
                continue  # not a run folder this version can read
            db.execute(
                "INSERT OR REPLACE INTO runs (name, experiment, preset, seeds, device, status, verdict, "
                "started_at, duration_s, summary) VALUES (?,?,?,?,?,?,?,?,?,?)",
                row,
            )
        db.commit()


def _seeds(seeds: list[int]) -> str:
    return ",".join(str(s) for s in seeds)
