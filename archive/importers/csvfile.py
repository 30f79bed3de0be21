"""CSV (or tab-separated) with a header row naming generic-format fields; empty cells count as absent."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from archive.importers.base import RawRecord


def read(text: str) -> Iterator[RawRecord]:
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first and "," not in first else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [h.strip() for h in reader.fieldnames or []]
    reader.fieldnames = header
    start = reader.line_num + 1
    for row in reader:
        line, start = start, reader.line_num + 1
        if None in row:  # more cells than the header has names
            yield RawRecord(line, error=f"{len(header) + len(row[None])} cells for {len(header)} columns")
            continue
        yield RawRecord(line, {k: v for k, v in row.items() if k and v not in (None, "")})
