"""check_parquet.py FILE.parquet EXPECTED.json: reads a Parquet file written by sim/parquet.cpp with
pyarrow and compares it with what the writer was given. EXPECTED.json: {"num_rows": N,
"num_row_groups": G (optional), "columns": [{"name", "type": "int64|float|double|list<float>",
"values": [...]}]}. Exits 0 when schema, row (group) counts and every value match exactly, else
prints the first differences and exits 1. Called by tests/sim/test_parquet.cpp."""
import json
import sys

import pyarrow as pa
import pyarrow.parquet as pq

TYPES = {"int64": pa.int64(), "float": pa.float32(), "double": pa.float64()}


def main(path, expected_path):
    with open(expected_path) as f:
        want = json.load(f)
    meta = pq.ParquetFile(path).metadata
    table = pq.read_table(path)
    errors = []
    if table.num_rows != want["num_rows"]:
        errors.append(f"{table.num_rows} rows, expected {want['num_rows']}")
    if "num_row_groups" in want and meta.num_row_groups != want["num_row_groups"]:
        errors.append(f"{meta.num_row_groups} row groups, expected {want['num_row_groups']}")
    names = [c["name"] for c in want["columns"]]
    if table.column_names != names:
        errors.append(f"columns {table.column_names}, expected {names}")
    for c in want["columns"]:
        if c["name"] not in table.column_names:
            continue
        field = table.schema.field(c["name"])
        if c["type"] == "list<float>":
            ok = pa.types.is_list(field.type) and field.type.value_type == pa.float32()
        else:
            ok = field.type == TYPES[c["type"]]
        if not ok:
            errors.append(f"column {c['name']}: type {field.type}, expected {c['type']}")
            continue
        got = table.column(c["name"]).to_pylist()
        bad = [i for i, (a, b) in enumerate(zip(got, c["values"])) if a != b]
        if len(got) != len(c["values"]):
            errors.append(f"column {c['name']}: {len(got)} values, expected {len(c['values'])}")
        for i in bad[:5]:
            errors.append(f"column {c['name']} row {i}: {got[i]!r}, expected {c['values'][i]!r}")
    if errors:
        print(f"{path}:", *errors, sep="\n  ")
        return 1
    print(f"{path}: {table.num_rows} rows in {meta.num_row_groups} row groups, {len(names)} columns match")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
