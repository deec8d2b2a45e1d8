"""The Table Schemas in ``schema/`` are the contract; Arrow types derive from them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow as pa

# Tables in publishing order: a table's foreign keys point only to earlier ones.
TABLES = ("reports", "incidents", "measures", "figures")

_ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
}


def schema_dir() -> Path:
    """``schema/`` beside the package (an editable install or a checkout)."""
    here = Path(str(resources.files("pipeline"))).parent / "schema"
    return here


@dataclass(frozen=True)
class TableSchema:
    name: str
    descriptor: dict[str, Any]

    @property
    def fields(self) -> list[dict[str, Any]]:
        return list(self.descriptor["fields"])

    @property
    def field_names(self) -> list[str]:
        return [f["name"] for f in self.descriptor["fields"]]

    def field(self, name: str) -> dict[str, Any]:
        return next(f for f in self.descriptor["fields"] if f["name"] == name)

    @property
    def primary_key(self) -> list[str]:
        return list(self.descriptor.get("primaryKey", []))

    @property
    def foreign_keys(self) -> list[dict[str, Any]]:
        return list(self.descriptor.get("foreignKeys", []))

    def arrow_schema(self) -> pa.Schema:
        return pa.schema(
            [
                pa.field(f["name"], _ARROW_TYPES[f["type"]], nullable=not f.get("constraints", {}).get("required", False))
                for f in self.fields
            ]
        )


def load_schemas(folder: Path | None = None) -> dict[str, TableSchema]:
    folder = folder or schema_dir()
    return {
        name: TableSchema(name, json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))) for name in TABLES
    }


def typed_table(columns: dict[str, list[Any]], rows: int, schema: TableSchema) -> pa.Table:
    """Column lists as an Arrow table typed by the schema (every field nullable: the checks
    find the missing values); a field with no list is all null."""
    arrow = schema.arrow_schema()
    return pa.Table.from_arrays([pa.array(columns.get(f.name, [None] * rows), f.type) for f in arrow],
                                schema=pa.schema([f.with_nullable(True) for f in arrow]))
