"""A column of a batch's values held as its distinct values and each row's index into them.

columnar.vouch parses each distinct No, office, leak cell, phone, category and
figures block once; a batch of 60,000 rows has a few thousand of them. Kept
this way, the records are made with one Arrow `take` per column instead of a
Python object per row; rows are made Python only where normalize.py reads them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Coded:
    values: list[Any]  # each distinct value once
    indices: np.ndarray  # int64: each row's value, as its place in `values`

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, rows: slice) -> list[Any]:
        """The rows' values as a list, as a list column's slice gives them."""
        values = self.values
        return [values[i] for i in self.indices[rows].tolist()]

    def map(self, function: Callable[[Any], Any]) -> Coded:
        """function of every row's value, called once per distinct value."""
        return Coded([function(v) for v in self.values], self.indices)

    def rows(self, ranges: Sequence[tuple[int, int]]) -> Coded:
        """The rows in `ranges` (start, stop), in order, with only the values they hold: a
        value of the rows left out (one a screen refused, say) is never converted."""
        picked = np.concatenate([self.indices[a:b] for a, b in ranges]) if ranges else self.indices[:0]
        used, indices = np.unique(picked, return_inverse=True)
        return Coded([self.values[i] for i in used.tolist()], indices.astype(np.int64))

    def arrow(self, kind: pa.DataType, of: Callable[[Any], Any] = _same) -> pa.Array:
        """of(value) for every row, as Arrow: each distinct value converted once, then taken."""
        return pa.array([of(v) for v in self.values], kind).take(pa.array(self.indices, pa.int64()))

    @staticmethod
    def of_codes(values: list[Any], codes: pa.Array) -> Coded:
        """From a dictionary encoding's indices (no nulls)."""
        return Coded(values, np.asarray(codes.to_numpy(zero_copy_only=False), np.int64))
