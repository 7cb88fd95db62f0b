"""Run folders, results, reports and the index of runs."""

from .report import Code, Figure, Section, Table, Text
from .results import Claim, Results, Verdict
from .run_folder import RunFolder, ensure_writable
from .store import RunIndex, RunRecord

__all__ = [
    "Claim",
    "Code",
    "Figure",
    "Results",
    "RunFolder",
    "RunIndex",
    "RunRecord",
    "Section",
    "Table",
    "Text",
    "Verdict",
    "ensure_writable",
]
