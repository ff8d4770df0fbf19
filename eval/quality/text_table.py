"""Plain-text tables for the terminal: what the eval commands print."""

from __future__ import annotations


def aligned_lines(rows: list[list[str]]) -> list[str]:
    """A text table: the first column left-aligned, the others right-aligned (numbers)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
