"""arrow_figures reads a figures block only where it gives what values.parse_figures gives."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.arrow_figures import parse_blocks
from pipeline.arrow_records import TOTALS, _figure_rows
from pipeline.coded import Coded
from pipeline.errors import ValueProblem
from pipeline.values import Figure, parse_figures, totals

from .conftest import SEED

COMMON = ["人数：1人", "人数:1人 金額246,000円", "世帯数：47世帯 人数：50人 総額：21,000円", "発送漏れ：134人 誤記載：うち96人",
          "約12万円", "施設数：1施設 金額246,000円", "人数：３人", "金額1.5万円", "件数：うち約2件", "人数：1人\t金額：2円"]


def agrees(blocks: list[str]) -> list[list[Figure] | None]:
    """Every block read in Arrow is read the same by parse_figures."""
    read = parse_blocks(blocks)
    assert len(read) == len(blocks)
    for block, figures in zip(blocks, read):
        if figures is not None:
            assert figures == parse_figures(block), block
    return read


def test_the_common_blocks_are_read_and_agree() -> None:
    assert all(figures is not None for figures in agrees(COMMON))
    assert parse_blocks(["人数：1人 金額246,000円"]) == [[Figure("人数", 1, "人", None), Figure("金額", 246_000, "円", None)]]


def test_the_seeds_blocks_agree() -> None:
    blocks = [line.split("【")[1].split("】")[0] for line in SEED.read_text(encoding="utf-8").splitlines() if "【" in line and "】" in line]
    blocks = [b for b in blocks if "月" not in b]  # the title's period is not a figures block
    assert len(blocks) >= 4
    assert all(figures is not None for figures in agrees(blocks))


def test_what_parse_figures_refuses_is_never_read() -> None:
    refused = ["x", "人数：1.5人", "人数：1", "金額：1234567890123456円", "9999999999999万円", "人数：1人 x", "：人"]
    for block in refused:
        try:
            parse_figures(block)
        except ValueProblem:
            pass
        else:
            raise AssertionError(block)
    assert parse_blocks(refused) == [None] * len(refused)


PIECES = st.sampled_from(["人数", "世帯数", "施設数", "金額", "総額", "発送漏れ", "うち", "約", "：", ":", "，", ",", ".", "．", "万",
                          "人", "名", "世帯", "円", "件", " ", "\t", "\u3000", "\n", "０", "１", "9", "0", "12", "1,234", "x", "【", "a"])


@settings(max_examples=600, deadline=None)
@given(st.lists(st.lists(PIECES, max_size=12).map("".join), min_size=1, max_size=8))
def test_any_block_read_in_arrow_is_read_the_same_by_parse_figures(blocks: list[str]) -> None:
    agrees(blocks)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["人数", "世帯数", "金額", "誤記載", ""]), st.sampled_from(["：", ":", ""]),
                          st.sampled_from(["", "うち", "約", "うち約"]), st.integers(0, 10**9), st.booleans(),
                          st.sampled_from(["人", "世帯", "円", "件"])), min_size=1, max_size=4))
def test_well_formed_blocks_are_all_read(figures: list[tuple[str, str, str, int, bool, str]]) -> None:
    block = " ".join(f"{label}{colon}{qual}{value:,}{'万' if man else ''}{unit}" if value else f"{label}{colon}{qual}{value}{unit}"
                     for label, colon, qual, value, man, unit in figures)
    [read] = agrees([block])
    assert read is not None, block


def test_whitespace_is_what_isspace_holds_for() -> None:
    """The screens' classes are built from text.whitespace(): it must be str.isspace's set."""
    from pipeline.text import whitespace

    assert whitespace() == tuple(c for c in map(chr, range(0x110000)) if c.isspace())


def test_width_folds_are_what_fold_width_changes() -> None:
    from pipeline.text import fold_width, width_folds

    changed = {c: fold_width(c) for c in map(chr, range(0x110000)) if fold_width(c) != c}
    assert width_folds() == changed


FIGURE = st.builds(Figure, st.sampled_from(["", "人数", "世帯数", "施設数", "金額", "総額", "対象者"]),
                   st.integers(min_value=0, max_value=10**15 - 1), st.sampled_from(["人", "名", "世帯", "施設", "円", "件"]),
                   st.sampled_from([None, "うち", "約", "うち約"]))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.lists(FIGURE, max_size=5), min_size=1, max_size=6), st.lists(st.integers(min_value=0, max_value=5), max_size=12))
def test_totals_summed_in_arrow_are_those_of_values_totals(blocks: list[list[Figure]], rows: list[int]) -> None:
    """Rows of distinct figure blocks (Coded) get each block's values.totals, summed by numpy;
    the same rows as a list, each its own block, get them too; both give the same figures."""
    rows = [r % len(blocks) for r in rows]
    coded = _figure_rows(Coded(blocks, np.asarray(rows, np.int64)))
    listed = _figure_rows([blocks[r] for r in rows])
    expected = [totals(blocks[r]) for r in rows]
    for name in TOTALS:
        assert coded.totals[name].to_pylist() == [getattr(t, name) for t in expected] == listed.totals[name].to_pylist()
    assert {k: v.to_pylist() for k, v in coded.fields.items()} == {k: v.to_pylist() for k, v in listed.fields.items()}
    assert coded.parent.to_pylist() == listed.parent.to_pylist() and coded.figure_no.tolist() == listed.figure_no.tolist()
