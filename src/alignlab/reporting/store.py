"""An SQLite index of the runs under one output folder (``<out>/index.sqlite``), for ``alignlab runs``."""

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from .results import Results

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    name TEXT PRIMARY KEY,
    experiment TEXT NOT NULL,
    preset TEXT NOT NULL,
    seed INTEGER NOT NULL,
    device TEXT NOT NULL,
    status TEXT NOT NULL,           -- running | finished | failed
    verdict TEXT,
    started_at TEXT NOT NULL,
    duration_s REAL,
    summary TEXT
)
"""


@dataclass(frozen=True)
class RunRecord:
    name: str
    experiment: str
    preset: str
    seed: int
    device: str
    status: str
    verdict: str | None
    started_at: str
    duration_s: float | None
    summary: str | None


class RunIndex:
    def __init__(self, root: Path) -> None:
        self.path = root / "index.sqlite"

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=30)
        connection.execute(SCHEMA)
        return connection

    def started(
        self, name: str, experiment: str, preset: str, seed: int, device: str, started_at: str
    ) -> None:
        with closing(self._connect()) as db, db:
            db.execute(
                "INSERT INTO runs (name, experiment, preset, seed, device, status, started_at) VALUES (?,?,?,?,?,?,?)",
                (name, experiment, preset, seed, device, "running", started_at),
            )

    def finished(self, name: str, results: Results) -> None:
        with closing(self._connect()) as db, db:
            db.execute(
                "UPDATE runs SET status='finished', verdict=?, duration_s=?, summary=? WHERE name=?",
                (results.verdict, results.duration_s, results.summary, name),
            )

    def failed(self, name: str, error: str) -> None:
        with closing(self._connect()) as db, db:
            db.execute("UPDATE runs SET status='failed', summary=? WHERE name=?", (error, name))

    def list(self) -> list[RunRecord]:
        if not self.path.exists():
            return []
        with closing(self._connect()) as db:
            rows = db.execute(
                "SELECT name, experiment, preset, seed, device, status, verdict, started_at, duration_s, summary "
                "FROM runs ORDER BY started_at, name"
            ).fetchall()
        return [RunRecord(*row) for row in rows]
