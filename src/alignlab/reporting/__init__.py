"""Run folders, results, reports and the index of runs."""

from .report import Code, Figure, Section, Table, Text
from .results import Claim, Results, Verdict
from .run_folder import RunFolder, ensure_writable
from .site import build_site
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
    "build_site",
    "ensure_writable",
]
