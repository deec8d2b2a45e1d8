"""The vectorized prefilter of privacy.scan_tables never hides what scan_text would find."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.privacy import PREFILTER, scan_text

PIECES = [
    "yamada@example.jp", "ｙａｍａｄａ＠ｅｘａｍｐｌｅ．ｊｐ", "090-1234-5678", "０９０－１２３４－５６７８", "+81 90 1234 5678",
    "(0796)24-7033", "0796-24-7033", "〒668-8666", "668-8666", "1234 5678 9012", "4111111111111111", "4111 1111 1111 1111",
    "中央町1丁目2番3号", "三丁目4-5", "12番地の3", "山田太郎様", "田中さん", "佐藤氏", "鈴木さま", "第63条", "246,000円",
    "2024.4.8 (2024.4.15)", "134人", "令和6年", "電話", "ー", "－", " ", "\u3000", "、", "。",
]
TEXT = st.lists(st.one_of(st.sampled_from(PIECES), st.text(alphabet="0123456789０１２３４５６７８９-－ー() 　+@様さん氏番地丁目号〒市町", max_size=12)), max_size=6).map("".join)


def prefilter_matches(text: str) -> bool:
    return bool(pc.match_substring_regex(pa.array([text]), PREFILTER)[0].as_py())


@settings(max_examples=1500, deadline=None)
@given(TEXT)
def test_every_finding_passes_the_prefilter(text: str) -> None:
    if scan_text(text):
        assert prefilter_matches(text), (text, scan_text(text))


def test_the_prefilter_lets_ordinary_report_text_by() -> None:
    for text in ("算定誤りにより実際より少ない金額で通知し支弁", "生活保護法第63条による過支給額の返納を依頼", "2024.6.12 (2024.6.12)"):
        assert not prefilter_matches(text)
