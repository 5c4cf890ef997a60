"""kubesim's Table printers against the column definitions captured from upstream
(tools/capture_table_columns.py writes operator/kubesim/data/table_columns.json)."""

from __future__ import annotations

from kubesim import tables


def test_every_printer_has_upstreams_columns_and_every_upstream_printer_a_row() -> None:
    captured = tables._builtin_columns()
    for group, plural in tables._ROWS:
        assert f"{group}/{plural}" in captured, f"no captured columns for {group}/{plural}: run the tool"
    for key, columns in captured.items():
        group, plural = key.split("/")
        if (group, plural) not in tables._ROWS:
            # Upstream has no printer for it: its default table, which kubesim gives kinds without a row.
            assert columns == [tables.NAME_COL, tables.CREATED_AT_COL], key
