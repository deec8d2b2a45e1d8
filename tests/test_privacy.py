"""Personal information never reaches the portal: each pattern is found, the message
names row and field with a masked value, the seed passes, reviewed exceptions work."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import build, privacy, privacy_tables
from pipeline.config import Config, ConfigError, load_config
from pipeline.text import fold_number

from .conftest import ROOT, SEED, tree_digest

SUMMARY, RESPONSE, MEASURES, PHONE = 4, 6, 7, 8
FULL = str.maketrans("0123456789-", "０１２３４５６７８９－")


def kinds(text: str, office: tuple[str, ...] = ()) -> list[tuple[str, str, str]]:
    return [(f.kind, text[f.start:f.end], f.masked) for f in privacy.scan_text(text, office)]


# --- the patterns, one string at a time ---------------------------------------------------

FOUND = [
    ("連絡先は taro.yamada@example.co.jp です", "email", "taro.yamada@example.co.jp", "t***@***.jp"),
    ("ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐへ送信", "email", "ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ", "t***@***.jp"),
    ("本人の携帯090-1234-5678に連絡", "mobile-phone", "090-1234-5678", "***-****-**78"),
    ("携帯０８０－１２３４－５６７８", "mobile-phone", "０８０－１２３４－５６７８", "***-****-**78"),
    ("携帯 07012345678 へ", "mobile-phone", "07012345678", "*********78"),
    ("+81 90 1234 5678 に", "mobile-phone", "+81 90 1234 5678", "+** ** **** **78"),
    ("自宅(0796)22-1234へ電話", "phone", "(0796)22-1234", "(****)**-**34"),
    ("IP電話050-1234-5678", "phone", "050-1234-5678", "***-****-**78"),
    ("個人番号123456789018を記載", "my-number", "123456789018", "**********18"),
    ("番号 1234 5678 9018 の", "my-number", "1234 5678 9018", "**** **** **18"),
    ("番号1234-5678-9018の", "my-number", "1234-5678-9018", "****-****-**18"),
    ("番号１２３４　５６７８　９０１８の", "my-number", "１２３４　５６７８　９０１８", "**** **** **18"),
    ("カード4111 1111 1111 1111で決済", "card-number", "4111 1111 1111 1111", "**** **** **** **11"),
    ("カード番号4111111111111111", "card-number", "4111111111111111", "**************11"),
    ("Amex 3782-822463-10005 を", "card-number", "3782-822463-10005", "****-******-***05"),
    ("〒668-0046 兵庫県", "postal-code", "〒668-0046", "〒***-****"),
    ("郵便番号6680046の", "postal-code", "郵便番号6680046", "郵便番号*******"),
    ("送付先 668-0046 豊岡市", "postal-code", "668-0046", "***-****"),
    ("立野町1丁目2番3号に", "street-address", "1丁目2番3号", "*丁目*番*号"),
    ("一丁目二番三号に", "street-address", "一丁目二番三号", "*丁目*番*号"),
    ("中央町2丁目4-5の", "street-address", "2丁目4-5", "*丁目*-*"),
    ("三丁目五-六の", "street-address", "三丁目五-六", "*丁目*-*"),  # kanji numerals, no 番: missed before session 7
    ("大字宮島123番地に", "street-address", "123番地", "***番地"),
    ("12番地の3へ", "street-address", "12番地の3", "**番地の*"),
    ("立野町12-3の", "street-address", "12-3", "**-*"),
    ("山田太郎様あての通知", "personal-name", "山田太郎様", "山＊＊＊様"),
    ("田中さんに連絡", "personal-name", "田中さん", "田＊さん"),
    ("委員の佐藤氏が", "personal-name", "佐藤氏", "佐＊氏"),
    ("林様へ", "personal-name", "林様", "＊様"),
    ("ヤマダタロウさまに", "personal-name", "ヤマダタロウさま", "ヤ＊＊＊＊＊さま"),
    ("中村さんと阿部様", "personal-name", "中村さん", "中＊さん"),
]


@pytest.mark.parametrize(("text", "kind", "value", "masked"), FOUND)
def test_each_pattern_is_found_and_masked(text: str, kind: str, value: str, masked: str) -> None:
    found = kinds(text)
    assert (kind, value, masked) in found, found
    assert value not in masked


NOT_FOUND = [
    # the real seed's kinds of text: amounts, dates, law articles, office numbers, identifiers
    "対象世帯に生活保護法第63条による過支給額の返納を依頼",
    "【施設数：1施設 金額246,000円】", "2024.4.8 (2024.4.15)", "2023.11.27 (2024.6.7)", "0796-24-7033",
    "282090-202404-001", "282090-202404", "ac1e924998fdb142e00e60894ab5c597b75e3b09a4ad9b837130e1a43d419bde",
    "令和6年4月1日 午前9時30分", "第2条第1項第3号", "No.1-2", "資料1-2-3", "100-1000人", "123-4567円",
    "1,234,567円", "12,345,678,901,234円", "10時～12時", "2番目の確認", "豊岡市中央町2丁目",
    "123456789012",  # 12 digits with a wrong check digit
    "4111111111111112",  # fails Luhn
    "1234567890128",  # a 13-digit number beginning with 1 (a 法人番号), not a card
    # generic words with honorifics, and honorific characters inside words
    "本人様", "ご本人様", "対象者様", "ご担当者様", "保護者様", "皆様", "皆さん", "お客様", "お客さん", "お子さん",
    "業者さん", "職員さん", "福祉課様", "学校教育課様", "委員会様", "同氏", "両氏", "旧氏併記", "○○様", "A様",
    "Ｂ氏", "ユーザー様", "様式第1号", "氏名、住所", "同様に", "前回同様", "仕様書", "多様な", "一様に",
]


@pytest.mark.parametrize("text", NOT_FOUND)
def test_no_false_positive(text: str) -> None:
    assert kinds(text, office=("0796-24-7033",)) == []


def test_office_numbers_are_not_findings_but_mobiles_always_are() -> None:
    office = ("0796-24-7033",)
    assert kinds("問合せは0796-24-7033へ", office) == []
    assert kinds("問合せは(0796)24-7033へ", office) == []
    assert kinds("問合せは0796-23-1111へ", office)[0][0] == "phone"
    assert kinds("090-1234-5678", ("090-1234-5678",))[0][0] == "mobile-phone"


def test_check_digit_algorithms() -> None:
    # 123456789018: the worked example of 施行令第8条 (remainder 212 mod 11 = 3, check 11-3 = 8)
    assert privacy.my_number_valid("123456789018")
    assert [d for d in "0123456789" if privacy.my_number_valid("12345678901" + d)] == ["8"]
    assert privacy.luhn_valid("4111111111111111") and privacy.luhn_valid("378282246310005")
    assert not privacy.luhn_valid("4111111111111121")


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_arbitrary_text_never_crashes_and_never_echoes(text: str) -> None:
    for finding in privacy.scan_text(text):
        assert 0 <= finding.start < finding.end <= len(text)
        assert finding.kind in privacy.KINDS
        assert finding.masked != text[finding.start:finding.end]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789０９-－ ()+@.〒丁目番地号様さん氏山田者町abc", max_size=60))
def test_text_dense_in_patterns_never_crashes(text: str) -> None:
    for finding in privacy.scan_text(text, ("0796-24-7033",)):
        assert finding.masked != text[finding.start:finding.end]


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="0123456789０-－ 一二三十百丁目番地号の町村字第山", max_size=30))
def test_a_street_address_is_looked_for_wherever_one_can_be(text: str) -> None:
    """The scan runs the street-address pattern only on texts with one of _STREET_MARKS:
    each of the pattern's forms has one, so none is passed over."""
    digit_view = fold_number(text)
    if privacy._STREET.search(digit_view):
        assert any(mark in digit_view for mark in privacy._STREET_MARKS)


# --- configuration -------------------------------------------------------------------------

def test_exceptions_are_read_and_checked() -> None:
    good = [{"kind": "phone", "text": "0796-23-1111", "reason": "代表番号", "reviewed_by": "総務課 2024-07-01"},
            {"kind": "email", "pattern": r".*@city\.toyooka\.lg\.jp", "field": "response", "reason": "市の窓口",
             "reviewed_by": "総務課"}]
    loaded = privacy.load_exceptions({"privacy_exceptions": good})
    assert loaded[0].covers("phone", "(0796)23-1111", "incidents", "summary")
    assert not loaded[0].covers("mobile-phone", "0796-23-1111", "incidents", "summary")
    assert loaded[1].covers("email", "soumu@city.toyooka.lg.jp", "incidents", "response")
    assert not loaded[1].covers("email", "soumu@city.toyooka.lg.jp", "incidents", "summary")
    for bad in ({"kind": "phone", "text": "1"}, {"kind": "phone", "reason": "r", "reviewed_by": "x"},
                {"kind": "address", "text": "1", "reason": "r", "reviewed_by": "x"},
                {"kind": "phone", "pattern": "(", "reason": "r", "reviewed_by": "x"}, "0796-23-1111"):
        with pytest.raises(ConfigError):
            privacy.load_exceptions({"privacy_exceptions": [bad]})


def test_the_seed_has_no_finding(config: Config) -> None:
    outcome = build.check([SEED], config)
    assert outcome.tables["incidents"].num_rows == 7
    assert privacy_tables.scan_tables(outcome.tables, outcome.normalized) == []
    assert not [p for p in outcome.problems if p.code == "personal-information"]


# --- the build stops, says where and what, and publishes nothing ---------------------------



BUILD_CASES = [
    # (row, column, text, line, No, header, field, kind named, the value that must not be echoed, masked)
    (0, SUMMARY, "山田太郎様あての委託通知書を誤って送付", 6, "1", "概要", "summary", "a person's name", "山田太郎", "山＊＊＊様"),
    (1, RESPONSE, "本人の携帯090-1234-5678へ電話し謝罪", 7, "2", "対応状況", "response", "a mobile phone number",
     "1234-5678", "***-****-**78"),
    (2, MEASURES, "・確認結果を taro@example.jp に送る。", 8, "3", "再発防止策", "measure", "an e-mail address",
     "taro@example.jp", "t***@***.jp"),
    (3, SUMMARY, "個人番号１２３４　５６７８　９０１８が記載された書類を誤送付", 9, "4", "概要", "summary",
     "an individual number", "５６７８", "**** **** **18"),
    (4, RESPONSE, "〒668-0046 豊岡市立野町1丁目2番3号の世帯に訂正通知を送付", 10, "5", "対応状況", "response",
     "a postal code", "668-0046", "〒***-****"),
    (5, SUMMARY, "カード番号4111 1111 1111 1111を記載した文書を送付", 11, "6", "概要", "summary",
     "a payment card number", "4111 1111", "**** **** **** **11"),
    (6, PHONE, "090-1234-5678", 12, "7", "問合せ先 電話番号", "contact_phone", "a mobile phone number", "1234-5678",
     "***-****-**78"),
]


@pytest.mark.parametrize(("row", "col", "text", "line", "no", "header", "field", "kind", "secret", "masked"), BUILD_CASES)
def test_a_finding_stops_the_build(
    make_report: Callable[..., Path], run: Callable[..., Result], published: Path,
    row: int, col: int, text: str, line: int, no: str, header: str, field: str, kind: str, secret: str, masked: str,
) -> None:
    before = tree_digest(published)
    result = run("build", str(make_report(cells={(row, col): text})), "--out", str(published))
    assert result.exit_code == 1
    where = f"error: report.txt, row {line} (No {no}): 「{header}」 [{field}] value {masked!r}: looks like {kind}"
    assert any(l.startswith(where) for l in result.stderr.splitlines()), result.stderr
    assert secret not in result.output + result.stderr
    assert "nothing published" in result.stderr
    assert tree_digest(published) == before
    assert sorted(p.name for p in published.parent.iterdir()) == ["in", "published"]


def test_message_in_japanese(make_report: Callable[..., Path], run: Callable[..., Result], tmp_path: Path) -> None:
    result = run("validate", "--lang", "ja", str(make_report(cells={(1, RESPONSE): "田中さんに謝罪"})))
    assert result.exit_code == 1
    assert "行 7 (No 2): 「対応状況」 [response] 値「田＊さん」: 敬称の付いた個人の名前と思われる記載があります" in result.stderr


def test_street_and_postal_are_both_reported(config: Config, make_report: Callable[..., Path]) -> None:
    report = make_report(cells={(4, RESPONSE): "〒668-0046 豊岡市立野町1丁目2番3号の世帯に送付"})
    found = [p for p in build.check([report], config).problems if p.code == "personal-information"]
    assert [(p.row, p.field, p.params["kind"], p.value) for p in found] == [
        (10, "response", "a postal code", "〒***-****"),
        (10, "response", "a street address (block and house number)", "*丁目*番*号"),
    ]


def project_with_exceptions(tmp_path: Path, exceptions: list[object]) -> Path:
    """A copy of the project's configuration with privacy exceptions added."""
    root = tmp_path / "project"
    shutil.copytree(ROOT / "profiles", root / "profiles")
    metadata = json.loads((ROOT / "datapackage.json").read_text(encoding="utf-8"))
    metadata["x_pipeline"]["privacy_exceptions"] = exceptions
    (root / "datapackage.json").write_text(json.dumps(metadata, ensure_ascii=False), encoding="utf-8")
    return root / "datapackage.json"


def test_a_reviewed_exception_lets_an_office_phone_through(
    make_report: Callable[..., Path], run: Callable[..., Result], tmp_path: Path,
) -> None:
    report = make_report(cells={(1, RESPONSE): "代表電話0796-23-1111で受付"})
    out = tmp_path / "out"
    refused = run("build", str(report), "--out", str(out))
    assert refused.exit_code == 1 and "not an office number" in refused.stderr and not out.exists()

    config = project_with_exceptions(tmp_path, [
        {"kind": "phone", "text": "0796-23-1111", "reason": "市役所代表番号（公開済み）", "reviewed_by": "総務課 2024-07-01"},
    ])
    result = run("build", "--config", str(config), str(report), "--out", str(out))
    assert result.exit_code == 0, result.stderr
    assert "0796-23-1111" in (out / "data" / "incidents.csv").read_text(encoding="utf-8-sig")
    # the numbers a row publishes as its contact phone need no exception
    same = make_report(name="again.txt", cells={(1, RESPONSE): "担当課0796-21-9020で受付"})
    assert run("validate", str(same)).exit_code == 0


def test_a_malformed_exception_is_a_usage_error(run: Callable[..., Result], tmp_path: Path) -> None:
    config = project_with_exceptions(tmp_path, [{"kind": "phone", "text": "0796-23-1111"}])
    result = run("validate", "--config", str(config), str(SEED))
    assert result.exit_code == 2
    assert "privacy_exceptions #1" in result.stderr and "reason" in result.stderr


def test_load_config_keeps_exceptions_for_the_scan(tmp_path: Path) -> None:
    path = project_with_exceptions(tmp_path, [{"kind": "personal-name", "text": "山田様", "reason": "r", "reviewed_by": "x"}])
    loaded = privacy.load_exceptions(load_config(path.parent).options)
    assert loaded[0].covers("personal-name", "山田様", "incidents", "summary")


def test_texts_scanned_in_an_earlier_part_give_the_same_findings(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run remembers what the scan found in each text (privacy_tables.Seen), since parts share
    dates and summaries: the findings are those of a scan of every part afresh, exceptions
    and office numbers applied as before; a memory made with other office numbers is not
    used, and one that is full is emptied."""
    import pyarrow as pa

    from pipeline.normalize import Normalized, Source

    texts = [text for text, *_ in FOUND] + ["2024.4.8 (2024.4.15)", "会議資料を誤送付", "事務所0796-23-1111へ"]
    office = privacy_tables.office_numbers(["0796-23-1111"])
    exceptions = privacy.load_exceptions({"privacy_exceptions": [
        {"kind": "email", "text": "taro.yamada@example.co.jp", "reason": "r", "reviewed_by": "x"}]})

    def part(rows: list[str]) -> tuple[dict[str, pa.Table], Normalized]:
        normalized = Normalized()
        normalized.sources["incidents"] = [Source("a.txt", i + 1, str(i + 1)) for i in range(len(rows))]
        return {"incidents": pa.table({"summary": pa.array(rows, pa.string())})}, normalized

    parts = [part(texts), part(texts[::-1]), part(texts[3:] + texts[:3])]
    afresh = [privacy_tables.scan_tables(t, n, exceptions, office) for t, n in parts]
    expected = {(row, privacy.KINDS[f.kind][0]) for row, text in enumerate(texts, 1) for f in privacy.scan_text(text, ["0796-23-1111"])
                if not (f.kind == "email" and "taro.yamada" in text)}  # excepted
    assert {(p.row, p.params["kind"]) for p in afresh[0]} == expected and len(expected) > len(FOUND) - 2
    seen = privacy_tables.Seen(office)
    assert [privacy_tables.scan_tables(t, n, exceptions, office, seen) for t, n in parts] == afresh
    assert texts[0] in seen.found and "会議資料を誤送付" not in seen.found  # only the prefilter's candidates are scanned
    assert privacy_tables.scan_tables(*parts[0], exceptions, office, privacy_tables.Seen(frozenset())) == afresh[0]  # other office numbers: not used
    monkeypatch.setattr(privacy_tables, "SEEN_CHARS", 60)
    seen = privacy_tables.Seen(office)
    assert [privacy_tables.scan_tables(t, n, exceptions, office, seen) for t, n in parts] == afresh
    assert 0 < seen.chars <= 60 and seen.chars == sum(map(len, seen.found))


@settings(max_examples=1000, deadline=None)
@given(st.from_regex(r"\A0[0-9]{1,3}-[0-9]{1,4}-[0-9]{3,4}\Z"), st.booleans())
def test_a_value_left_out_of_the_scan_as_an_office_number_holds_no_finding(phone: str, other: bool) -> None:
    """What scan_tables leaves out of the scan (privacy_tables._not_office) as an office number
    holds nothing scan_text would find, with those office numbers."""
    import pyarrow as pa

    office = ["0796-23-1111"] if other else [phone]
    left = privacy_tables._not_office(pa.array([phone]), privacy_tables.Seen(privacy_tables.office_numbers(office)).office_values)
    if not len(left):
        assert privacy.scan_text(phone, office) == []
    if other and phone.replace("-", "") != "0796231111":
        assert len(left) == 1  # another office's number is scanned


def test_contact_phones_left_out_of_the_scan_are_only_office_numbers() -> None:
    """Each row's findings are those of scan_text, whether or not the value was left out
    of the scan as an office number: mobiles, numbers that are not the office's, and
    office numbers written otherwise are still scanned."""
    import pyarrow as pa

    from pipeline.normalize import Normalized, Source

    phones = ["0796-23-1111", "0796-23-2222", "090-1234-5678", "(0796)23-1111", "０７９６－２３－１１１１", "0796-23-1111 内線5",
              "03-1234-5678", "0796-231-111", None]
    office_of = ["0796-23-1111", "03-1234-5678"]
    normalized = Normalized()
    normalized.sources["incidents"] = [Source("a.txt", i + 1, str(i + 1)) for i in range(len(phones))]
    table = {"incidents": pa.table({"contact_phone": pa.array(phones, pa.string())})}
    found = privacy_tables.scan_tables(table, normalized, [], privacy_tables.office_numbers(office_of))
    expected = {(row, privacy.KINDS[f.kind][0]) for row, text in enumerate(phones, 1) if text for f in privacy.scan_text(text, office_of)}
    assert {(p.row, p.params["kind"]) for p in found} == expected
    assert {row for row, _ in expected} == {2, 3}  # not the office's, and a mobile
    scanned = privacy_tables._not_office(pa.array(phones[:-1]), privacy_tables.Seen(privacy_tables.office_numbers(office_of)).office_values).to_pylist()
    assert scanned == [p for p in phones[:-1] if p not in ("0796-23-1111", "03-1234-5678", "0796-231-111")]
    mobile = privacy_tables.Seen(frozenset({"09012345678", "0796231111"})).office_values  # a mobile given as an office number
    assert privacy_tables._not_office(pa.array(["090-1234-5678", "0796-23-1111"]), mobile).to_pylist() == ["090-1234-5678"]
