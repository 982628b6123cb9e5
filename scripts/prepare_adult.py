"""Rebuild examples/adult/adult.parquet from the original UCI Adult files.

The demo and the tests read one clean Parquet file; this script documents exactly how it was made from
`adult.data` and `adult.test` (UCI Machine Learning Repository, Becker & Kohavi 1996, CC BY 4.0):
fields trimmed, `?` turned into NULL, the test file's header line skipped and its labels' trailing periods
removed. Usage: python scripts/prepare_adult.py DIR_WITH_ADULT_FILES examples/adult/adult.parquet
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb

COLUMNS = [
    ("age", "BIGINT"),
    ("workclass", "VARCHAR"),
    ("fnlwgt", "BIGINT"),
    ("education", "VARCHAR"),
    ("education-num", "BIGINT"),
    ("marital-status", "VARCHAR"),
    ("occupation", "VARCHAR"),
    ("relationship", "VARCHAR"),
    ("race", "VARCHAR"),
    ("sex", "VARCHAR"),
    ("capital-gain", "BIGINT"),
    ("capital-loss", "BIGINT"),
    ("hours-per-week", "BIGINT"),
    ("native-country", "VARCHAR"),
    ("income", "VARCHAR"),
]


def _select(path: Path, skip: int) -> str:
    names = ", ".join(f"'{name}': 'VARCHAR'" for name, _ in COLUMNS)
    source = (
        f"read_csv('{path}', header=false, delim=',', skip={skip}, columns={{{names}}}, quote='')"
    )
    fields = []
    for name, sql_type in COLUMNS:
        value = f"NULLIF(NULLIF(trim(\"{name}\"), '?'), '')"
        if name == "income":
            value = f"rtrim({value}, '.')"
        fields.append(f'CAST({value} AS {sql_type}) AS "{name}"')
    return f"SELECT {', '.join(fields)} FROM {source} WHERE trim(\"age\") <> ''"


def main(source_dir: str, out: str) -> None:
    src = Path(source_dir)
    query = f"{_select(src / 'adult.data', 0)} UNION ALL {_select(src / 'adult.test', 1)}"
    con = duckdb.connect()
    con.execute(f"COPY ({query}) TO '{out}' (FORMAT parquet, COMPRESSION zstd)")
    rows, positives = con.execute(
        f"SELECT count(*), count(*) FILTER (income = '>50K') FROM '{out}'"
    ).fetchone()  # type: ignore[misc]
    print(f"{out}: {rows} rows, {positives} with income >50K")


if __name__ == "__main__":
    main(*sys.argv[1:3])
