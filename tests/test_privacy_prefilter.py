"""The vectorized prefilter of privacy_tables.scan_tables never hides what scan_text would find."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.privacy import scan_text
from pipeline.privacy_tables import PREFILTER

PIECES = [
    "yamada@example.jp", "ｙａｍａｄａ＠ｅｘａｍｐｌｅ．ｊｐ", "090-1234-5678", "０９０－１２３４－５６７８", "+81 90 1234 5678",
    "(0796)24-7033", "0796-24-7033", "〒668-8666", "668-8666", "1234 5678 9012", "4111111111111111", "4111 1111 1111 1111",
    "中央町1丁目2番3号", "三丁目4-5", "12番地の3", "山田太郎様", "田中さん", "佐藤氏", "鈴木さま", "第63条", "246,000円",
    "2024.4.8 (2024.4.15)", "134人", "令和6年", "電話", "ー", "－", " ", "\u3000", "、", "。",
    "090–1234–5678", "0796—24—7033", "668‑8666", "668ｰ8666", "＋８１－７９６－２４－７３３３", "3782 822463 10005",
    "中央町\u00a01-2", "町\t1-2", "町1―2", "（０７９６）２４－７０３３", "0٩0-١٢٣٤-٥٦٧٨",
    "0796 24 7033", "07962470 33", "0120-12-345", "03-1234-5678", "(03)1234-5678", "03 1234 5678", "０３（１２３４）５６７８", "五番地", "三番五号", "１２番地",
    "お客様", "同様", "ｶﾀｶﾅ様", "電話番号", "2015.12.10 (2015.12.18)",
    "(0796)-(24)-7033", "（０７９６）－（２４）－７０３３", "+81 (0)796-24-7033", "+81 (0) 90 1234 5678", "々様", "ヶ氏", "ヤマダー様", "〆さん",
]
# every character the detectors' view folds: dashes, spaces, full-width forms
FOLDED = "‐‑‒–—―−－ーｰ\u00a0\u2009\u202f\t　＋（）０１２３４５６７８９"
OTHER = "٠١٢٣٤٥٦٧٨٩०१२\u2003\u2028\u3000\u1680"  # other digits \d takes, other spaces \s takes
TEXT = st.lists(st.one_of(st.sampled_from(PIECES), st.text(alphabet="0123456789-() +@＠様さん氏番地丁目号〒市町村字山アｱ一三十々〆ヵヶー" + FOLDED + OTHER, max_size=12)), max_size=6).map("".join)


def prefilter_matches(text: str) -> bool:
    return bool(pc.match_substring_regex(pa.array([text]), PREFILTER)[0].as_py())  # as published, unfolded


@settings(max_examples=3000, deadline=None)
@given(TEXT)
def test_every_finding_passes_the_prefilter(text: str) -> None:
    if scan_text(text):
        assert prefilter_matches(text), (text, scan_text(text))


def test_the_prefilter_lets_ordinary_report_text_by() -> None:
    for text in ("算定誤りにより実際より少ない金額で通知し支弁", "生活保護法第63条による過支給額の返納を依頼", "2024.6.12 (2024.6.12)",
                 "2015.12.10 (2015.12.18)", "2016.4.30（2016.5.10）", "口座振替のお知らせに他の方の電話番号を誤って記載",
                 "書類をファクシミリで送信する際、番号を過って別の施設へ送信"):
        assert not prefilter_matches(text)


def test_a_mobile_number_with_en_dashes_is_not_published(make_report, run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    report = make_report(cells={(2, 4): "連絡先（携帯090–1234–5678、〒668–8666）を誤記載"})
    result = run("build", str(report), "--out", str(tmp_path / "out"))
    assert result.exit_code == 1 and not (tmp_path / "out").exists()
    assert "mobile" in result.stderr.lower() and "1234" not in result.stderr
