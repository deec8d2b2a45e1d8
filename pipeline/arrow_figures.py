"""The figures block of a 概要 (`人数：1人 金額246,000円`) read for many blocks at once.

`values.parse_figures` reads a block in Python, token by token (fold_width, a regex
and a float each). Here the blocks' tokens are split and matched by RE2 with the very
pattern values._FIGURE, and their numbers read by Arrow and numpy. A block is read
only where that is proven to give what parse_figures gives: it holds no character
fold_width would change except the few folded here the same way, and no whitespace but
spaces and tabs; every one of its tokens matches, with a number of at most MAX_DIGITS
digits that is whole, and a unit. Any other block is left to parse_figures, which also
says what is wrong with it.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .text import char_class, whitespace, width_folds
from .values import _FIGURE, MAX_DIGITS, Figure

# what fold_width changes that figures use, folded here as it folds them
FOLDED = {"：": ":", "，": ",", "．": ".", **{chr(0xFF10 + d): str(d) for d in range(10)}}


@lru_cache(maxsize=1)
def _patterns() -> tuple[str, str]:
    """RE2 patterns derived from the Python definitions: any other character fold_width
    changes, or whitespace other than a space or a tab (refused); and the token, which is
    values._FIGURE anchored (tokens hold no whitespace, so its \\s matches nothing in
    either engine)."""
    others = [c for c in width_folds() if c not in FOLDED]
    refused = char_class([*others, *(c for c in whitespace() if c not in " \t")])
    return refused, f"^(?:{_FIGURE.pattern})$"


def parse_blocks(blocks: list[str]) -> list[list[Figure] | None]:
    """parse_figures of each block, or None where it is not proven (see above)."""
    if not blocks:
        return []
    refused, token = _patterns()
    text = pa.array(blocks, pa.string())
    for char, folded in FOLDED.items():
        text = pc.replace_substring(text, char, folded)
    ok = ~np.asarray(pc.match_substring_regex(text, refused).to_numpy(zero_copy_only=False))
    parts = pc.split_pattern_regex(pc.utf8_trim(text, " \t"), "[ \t]+")
    tokens = pc.list_flatten(parts)
    owner = pc.list_parent_indices(parts).to_numpy()
    real = np.asarray(pc.greater(pc.binary_length(tokens), 0).to_numpy(zero_copy_only=False))  # not empty
    tokens, owner = tokens.filter(pa.array(real)), owner[real]
    groups = pc.extract_regex(tokens, token)
    matched = np.asarray(groups.is_valid().to_numpy(zero_copy_only=False))
    field = {name: pc.fill_null(groups.field(name), "") for name in ("label", "qual", "num", "man", "unit")}
    number = pc.replace_substring(field["num"], ",", "")
    point = np.asarray(pc.find_substring(number, ".").to_numpy(zero_copy_only=False))
    length = np.asarray(pc.utf8_length(number).to_numpy(zero_copy_only=False))
    man = np.asarray(pc.equal(field["man"], "万").to_numpy(zero_copy_only=False))
    digits = np.where(point >= 0, point, length) + np.where(man, 4, 0)
    good = matched & (digits <= MAX_DIGITS) & (length > 0)
    value = np.zeros(len(tokens), np.float64)
    value[good] = pc.cast(number.filter(pa.array(good)), pa.float64()).to_numpy() * np.where(man[good], 10_000.0, 1.0)
    good &= (value == np.floor(value)) & np.asarray(pc.greater(pc.binary_length(field["unit"]), 0).to_numpy(zero_copy_only=False))
    ok &= np.bincount(owner[~good], minlength=len(blocks)) == 0
    uchi = pc.match_substring(field["qual"], "うち").to_pylist()
    yaku = pc.match_substring(field["qual"], "約").to_pylist()
    labels, units, values = field["label"].to_pylist(), field["unit"].to_pylist(), value.astype(np.int64).tolist()
    out: list[list[Figure] | None] = [[] if fine else None for fine in ok.tolist()]
    for i, at in enumerate(owner.tolist()):
        found = out[at]
        if found is not None:
            qualifier = ("うち" if uchi[i] else "") + ("約" if yaku[i] else "")
            found.append(Figure(labels[i].strip(), values[i], units[i], qualifier or None))
    return out
