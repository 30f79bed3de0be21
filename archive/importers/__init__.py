"""Importers: one module per input format, and the runner that lands files in the archive.

from archive.importers import import_paths
report = import_paths(archive, ["guides.jsonl"], max_body_chars=settings.max_body_chars)
"""

from archive.importers.base import FileReport, ImportReport, RawRecord, Reject
from archive.importers.runner import FORMATS, detect_format, expand, import_file, import_paths

__all__ = [
    "FORMATS",
    "FileReport",
    "ImportReport",
    "RawRecord",
    "Reject",
    "detect_format",
    "expand",
    "import_file",
    "import_paths",
]
