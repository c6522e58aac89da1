"""One table formatter for the command line, the demo's summary and its HTML report."""

from __future__ import annotations

import html as html_module
from collections.abc import Sequence


def format_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], *, html: bool = False
) -> str:
    """A table of strings as aligned text columns, or as an HTML ``<table>``.

    Parameters
    ----------
    header : sequence of str
        Column titles.
    rows : sequence of sequences of str
        One sequence per row, as long as ``header``.
    html : bool, default=False
        Return an HTML table with every cell escaped, instead of text.

    Returns
    -------
    str

    Examples
    --------
    >>> print(format_table(["name", "n"], [["pgd", "7"], ["fgsm", "1"]]))
    name  n
    pgd   7
    fgsm  1
    """
    if html:

        def cells(tag: str, row: Sequence[str]) -> str:
            return "".join(f"<{tag}>{html_module.escape(cell)}</{tag}>" for cell in row)

        body = "".join(f"<tr>{cells('td', row)}</tr>" for row in rows)
        return f"<table><tr>{cells('th', header)}</tr>{body}</table>"
    table = [list(header), *map(list, rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in table
    )
