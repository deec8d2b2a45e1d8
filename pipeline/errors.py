"""Errors as data: one flat record type, a catalog of codes, two languages.

Normalizers raise :class:`ValueProblem` (a typed ``ValueError``); readers and
checks return :class:`Problem` records that say where (file, row, the
source's No, field and its source header), what value, and what is wrong.
Nothing here prints: the CLI renders problems with :func:`render`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]

# code -> (English, Japanese). Templates use the problem's params.
CATALOG: dict[str, tuple[str, str]] = {
    # files and layout
    "file-unreadable": (
        "cannot read the file: {reason}",
        "ファイルを読み込めません: {reason_ja}",
    ),
    "file-encoding": (
        "the file is neither UTF-8 nor Shift_JIS (CP932); save it as UTF-8 or name its encoding with --encoding",
        "文字コードが UTF-8 でも Shift_JIS (CP932) でもありません。UTF-8 で保存し直すか --encoding で文字コードを指定してください",
    ),
    "file-empty": (
        "the file is empty",
        "ファイルが空です",
    ),
    "no-title": (
        "no title line with the period, such as 【2024年4月～6月判明分】, was found above the header",
        "見出しの上に【2024年4月～6月判明分】のような対象期間の行が見つかりません",
    ),
    "bad-period": (
        "the period in the title cannot be read: {reason}",
        "見出しの対象期間を読み取れません: {reason_ja}",
    ),
    "no-header": (
        "no header row was found (expected a row with the columns {expected}); if the text looks garbled, name the file's encoding with --encoding, or map this layout's headers in a source profile",
        "見出し行が見つかりません（{expected} の列が必要です）。文字化けしている場合は --encoding で文字コードを指定し、様式が違う場合は取込設定 (profile.json) で見出しを対応付けてください",
    ),
    "missing-column": (
        "the column 「{header}」 is missing from the header row",
        "見出し行に「{header}」の列がありません",
    ),
    "duplicate-column": (
        "the column 「{header}」 appears more than once in the header row",
        "見出し行に「{header}」の列が複数あります",
    ),
    "ragged-row": (
        "the row has {found} cells but the header has {expected}",
        "この行のセル数 ({found}) が見出しの列数 ({expected}) と合いません",
    ),
    "file-skipped": (
        "skipped: {suffix} files are not read as reports (use .txt, .tsv, .csv or .xlsx)",
        "読み飛ばしました: {suffix} のファイルは報告として読みません（.txt、.tsv、.csv、.xlsx にしてください）",
    ),
    "bad-profile": (
        "the source profile for this file cannot be used: {reason}",
        "このファイルの取込設定 (profile.json) を使えません: {reason}",
    ),
    "duplicate-report": (
        "another report is for the same period ({other_file}); if one corrects the other, put 訂正版 in its title or file name",
        "同じ期間の報告が他にもあります（{other_file}）。一方が訂正版であれば、その表題かファイル名に「訂正版」と入れてください",
    ),
    "report-superseded": (
        "replaced by the corrected report {other_file} (訂正版); its {rows} rows are not published",
        "訂正版 {other_file} に差し替えました。このファイルの {rows} 行は公開しません",
    ),
    "no-rows": (
        "the report has a header but no incident rows",
        "見出しはありますが、事案の行がありません",
    ),
    # values
    "bad-value": (
        "{reason}",
        "{reason_ja}",
    ),
    "missing-value": (
        "the cell is empty but a value is required",
        "必須の項目が空欄です",
    ),
    # rules the schema cannot say
    "discovered-outside-period": (
        "the discovery date {date} is outside the report's period {start} to {end}",
        "判明日 {date} が報告の対象期間 ({start}～{end}) の外です",
    ),
    "occurred-after-discovered": (
        "the occurrence date {date} is after the discovery date {discovered}",
        "発生日 {date} が判明日 {discovered} より後になっています",
    ),
    "range-reversed": (
        "the occurrence range ends ({date}) before it starts ({start})",
        "発生期間の終わり ({date}) が始まり ({start}) より前です",
    ),
    "bad-municipality-code": (
        "the municipality code {value} is not a valid 6-digit code (check digit should be {expected}); correct it in the configuration (datapackage.json or the source profile)",
        "団体コード {value} が正しくありません（検査数字は {expected} のはずです）。設定（datapackage.json または取込設定）を直してください",
    ),
    "duplicate-no": (
        "No {value} is used twice in this report (also on row {other_row})",
        "No {value} がこの報告の中で重複しています（{other_row} 行目にもあります）",
    ),
    "duplicate-incident": (
        "incident {value} is reported twice: here and in {other_file}",
        "事案 {value} が二重に報告されています（{other_file} にもあります）",
    ),
    # table schema checks on the tables about to be published
    "schema-violation": (
        "{reason}",
        "{reason_ja}",
    ),
    # privacy and hostile files (privacy.py, safety.py)
    "personal-information": (
        "looks like {kind} ({value}); published text must hold no personal information: remove it from the report, "
        "or record a reviewed exception under x_pipeline.privacy_exceptions in datapackage.json",
        "{kind_ja}と思われる記載があります（{value}）。公開するデータに個人情報は載せられません。報告から削除するか、"
        "確認済みの例外として datapackage.json の x_pipeline.privacy_exceptions に登録してください",
    ),
    "unsafe-file": (
        "refusing to open the file: {reason}",
        "安全のため、このファイルは開きません: {reason_ja}",
    ),
    "unsafe-path": (
        "refusing the path {value}: {reason}",
        "パス {value} は使えません: {reason_ja}",
    ),
    # warnings: published, but worth a look
    "unusual-character": (
        "contains {chars}, not a character of Japanese text (Shift_JIS); check the source for a typo",
        "{chars} は日本語の文字（Shift_JIS の範囲）ではありません。原文の誤字でないか確認してください",
    ),
}

KINDS = frozenset(CATALOG)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, located as precisely as is known."""

    code: str
    file: str
    row: int | None = None  # line (text) or sheet row (Excel), 1-based
    no: str | None = None  # the source's No of the incident
    field: str | None = None  # published field name
    header: str | None = None  # the source's column header text
    value: str | None = None
    severity: Severity = "error"
    params: dict[str, str] = dataclasses.field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.code not in KINDS:
            raise KeyError(f"unknown problem code {self.code!r}")

    def message(self, lang: str = "en") -> str:
        en, ja = CATALOG[self.code]
        template = ja if lang == "ja" else en
        values = {"value": self.value or "", "header": self.header or "", **self.params}
        values.setdefault("reason_ja", values.get("reason", ""))
        return template.format_map(_Default(values))

    def as_dict(self, lang: str = "en") -> dict[str, object]:
        return {
            "severity": self.severity,
            "code": self.code,
            "file": self.file,
            "row": self.row,
            "no": self.no,
            "field": self.field,
            "header": self.header,
            "value": self.value,
            "message": self.message(lang),
        }


class _Default(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class ValueProblem(ValueError):
    """Raised by a normalizer: the text cannot be read as the value wanted."""

    def __init__(self, reason: str, reason_ja: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.reason_ja = reason_ja or reason


def render(problem: Problem, lang: str = "en") -> str:
    """One line a clerk can act on: where, which column, what value, what is wrong."""
    where = problem.file
    if problem.row is not None:
        where += f", {'行' if lang == 'ja' else 'row'} {problem.row}"
    if problem.no is not None:
        where += f" (No {problem.no})"
    column = ""
    if problem.header or problem.field:
        header = f"「{problem.header}」" if problem.header else ""
        name = f" [{problem.field}]" if problem.field else ""
        column = f" {header}{name}".rstrip()
    value = ""
    if problem.value not in (None, ""):
        shown = problem.value if len(problem.value) <= 60 else problem.value[:57] + "..."
        value = f" 値「{shown}」" if lang == "ja" else f" value {shown!r}"
    label = {"error": ("error", "エラー"), "warning": ("warning", "注意")}[problem.severity]
    tag = label[1] if lang == "ja" else label[0]
    detail = f"{column}{value}".strip()
    located = f"{where}: {detail}" if detail else where
    return f"{tag}: {located}: {problem.message(lang)}"


def errors_in(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]
