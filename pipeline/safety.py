"""Hostile files and paths, refused before anything opens them.

- :func:`check_xlsx`: an ``.xlsx`` is a zip of XML. Before a reader unpacks it,
  the file must really be a zip (not a web page, an old ``.xls``, an encrypted
  workbook or a CSV renamed ``.xlsx``), hold ``xl/workbook.xml``, stay within
  :class:`XlsxLimits` — the file on disk at most 20 MiB, all parts together at
  most 100 MiB unpacked, no part inflating more than 100:1 once it passes
  1 MiB (a 200 KB zip bomb that unpacks to gigabytes is refused), at most
  10,000 parts — and no part may declare an XML DOCTYPE or ENTITY, which Excel
  never writes (entity-expansion attacks; openpyxl also parses with defusedxml).
  Python's zipfile never inflates a part past its declared size and checks
  its CRC, so reading every part here also proves the sizes true.
- :func:`inside` / :func:`contained`: a resource path named in a descriptor
  stays inside its folder: no URL, no absolute path (``/x``, ``C:\\x``,
  ``\\\\server``), no ``..``, no symbolic link leading out.

Both raise :class:`UnsafeFile` (or :class:`UnsafePath`) with a reason a
clerk can act on, in English and Japanese; :meth:`UnsafeFile.problem` turns
it into a :class:`~pipeline.errors.Problem`.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from .errors import Problem

MiB = 1 << 20


@dataclass(frozen=True)
class XlsxLimits:
    max_file_bytes: int = 20 * MiB
    max_unpacked_bytes: int = 100 * MiB
    max_ratio: float = 100.0  # unpacked : packed, per part
    ratio_grace_bytes: int = 1 * MiB  # parts smaller than this unpacked are not held to the ratio
    max_parts: int = 10_000


def _size(n: float) -> str:
    if n >= 10 * MiB:
        return f"{n / MiB:,.0f} MiB"
    return f"{n / MiB:,.1f} MiB" if n >= MiB else f"{max(n / 1024, 1):,.0f} KiB"


class UnsafeFile(Exception):
    """A file refused before it is opened; `reason` and `reason_ja` say why."""

    code = "unsafe-file"

    def __init__(self, reason: str, reason_ja: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.reason_ja = reason_ja

    def problem(self, file: str, value: str | None = None) -> Problem:
        return Problem(self.code, file, value=value, params={"reason": self.reason, "reason_ja": self.reason_ja})


class UnsafePath(UnsafeFile):
    """A path in a descriptor that leads outside its folder."""

    code = "unsafe-path"


_SIGNATURES: list[tuple[bytes, str, str]] = [
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old-style .xls workbook or a password-protected workbook",
     "古い形式 (.xls) またはパスワード付きのブック"),
    (b"%PDF", "a PDF document", "PDF 文書"),
    (b"{\\rtf", "an RTF document", "RTF 文書"),
]
_MARKUP = re.compile(rb"^\s*<(?:!doctype\s+html|html|head|body|table|meta|!--)", re.IGNORECASE)
_XML = re.compile(rb"^\s*<\?xml")
_DECLARATIONS = [token.encode(enc) for token in ("<!DOCTYPE", "<!ENTITY") for enc in ("utf-8", "utf-16-le", "utf-16-be")]
_OVERLAP = max(len(d) for d in _DECLARATIONS)


def what_is(head: bytes) -> tuple[str, str] | None:
    """What a file that is not a zip really is, from its first bytes (en, ja); None if unknown."""
    for signature, en, ja in _SIGNATURES:
        if head.startswith(signature):
            return en, ja
    body = head.removeprefix(b"\xef\xbb\xbf")
    if _MARKUP.match(body):
        return "a web page (HTML)", "Web ページ (HTML)"
    if _XML.match(body):
        return "an XML file (such as an Excel 2003 XML spreadsheet)", "XML ファイル（Excel 2003 XML 形式など）"
    if body and b"\x00" not in body[:4096]:
        return "a text file", "テキストファイル"
    return None


def check_xlsx(path: Path, limits: XlsxLimits = XlsxLimits()) -> None:
    """Refuse an .xlsx that is not a workbook, or could exhaust memory or disk when unpacked."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError as exc:
        raise UnsafeFile(f"cannot read it: {exc.strerror}", f"読み込めません: {exc.strerror}") from None
    if size == 0:
        raise UnsafeFile("the file is empty", "ファイルが空です")
    if size > limits.max_file_bytes:
        raise UnsafeFile(f"it is {_size(size)}, more than the {_size(limits.max_file_bytes)} allowed for a workbook",
                         f"{_size(size)} あり、ブックの上限 {_size(limits.max_file_bytes)} を超えています")
    if not head.startswith(b"PK\x03\x04"):
        kind = what_is(head) or ("some other kind of file", "Excel のブック以外のもの")
        raise UnsafeFile(f"it is named .xlsx but is really {kind[0]}; save it from Excel as a workbook (.xlsx)",
                         f"拡張子は .xlsx ですが、中身は{kind[1]}です。Excel で「Excel ブック (.xlsx)」として保存し直してください")
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
            _check_parts(parts, limits)
            for part in parts:
                _read_part(archive, part, limits)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, NotImplementedError) as exc:
        raise UnsafeFile(f"the workbook is damaged ({exc}); open it in Excel and save it again",
                         f"ブックが壊れています ({exc})。Excel で開いて保存し直してください") from None


def _check_parts(parts: list[zipfile.ZipInfo], limits: XlsxLimits) -> None:
    names = {p.filename for p in parts}
    if "xl/workbook.xml" not in names or "[Content_Types].xml" not in names:
        raise UnsafeFile("it is a zip archive but not an Excel workbook (no xl/workbook.xml inside)",
                         "zip 形式ですが Excel のブックではありません（xl/workbook.xml がありません）")
    if len(parts) > limits.max_parts:
        raise UnsafeFile(f"it holds {len(parts)} parts, more than the {limits.max_parts} allowed",
                         f"ブックの構成要素が {len(parts)} 個あり、上限 {limits.max_parts} 個を超えています")
    if any(p.flag_bits & 0x1 for p in parts):
        raise UnsafeFile("parts of it are encrypted; remove the password and save it again",
                         "暗号化されています。パスワードを解除して保存し直してください")
    total = sum(p.file_size for p in parts)
    if total > limits.max_unpacked_bytes:
        raise UnsafeFile(
            f"it would unpack to {_size(total)}, more than the {_size(limits.max_unpacked_bytes)} allowed "
            "(a workbook this large is usually a zip bomb or full of empty formatted cells)",
            f"展開すると {_size(total)} になり、上限 {_size(limits.max_unpacked_bytes)} を超えます"
            "（zip 爆弾か、書式だけの空セルが大量にあるブックです）")
    for p in parts:
        if p.file_size > limits.ratio_grace_bytes and p.file_size > limits.max_ratio * max(p.compress_size, 1):
            ratio = p.file_size / max(p.compress_size, 1)
            raise UnsafeFile(
                f"its part {p.filename} inflates {ratio:,.0f} times (more than {limits.max_ratio:.0f}:1), as a zip bomb does",
                f"構成要素 {p.filename} が展開で {ratio:,.0f} 倍に膨らみます（上限 {limits.max_ratio:.0f} 倍）。zip 爆弾の特徴です")


def _read_part(archive: zipfile.ZipFile, part: zipfile.ZipInfo, limits: XlsxLimits) -> None:
    """Unpack one part in blocks (never past its declared size) looking for DTD declarations."""
    xml = part.filename.endswith((".xml", ".rels", ".vml"))
    tail = b""
    with archive.open(part) as stream:
        for block in iter(lambda: stream.read(1 << 16), b""):
            if xml:
                window = tail + block
                if any(d in window for d in _DECLARATIONS):
                    raise UnsafeFile(
                        f"its part {part.filename} declares an XML DOCTYPE or ENTITY, which Excel never writes "
                        "(an entity-expansion attack)",
                        f"構成要素 {part.filename} に XML の DOCTYPE／ENTITY 宣言があります。Excel はこれを書き出さないため、"
                        "攻撃用のファイルと判断しました")
                tail = window[-_OVERLAP:]


# --- paths named in descriptors -------------------------------------------------------------

def path_problem(folder: Path, relative: object) -> tuple[str, str] | None:
    """Why `relative` may not be read from `folder` (en, ja), or None when it is safe."""
    if not isinstance(relative, str) or not relative.strip():
        return "it is not a single file path", "単一のファイルパスではありません"
    if "\x00" in relative:
        return "it contains a NUL character", "NUL 文字が含まれています"
    if re.match(r"^[A-Za-z][A-Za-z0-9+.\-]+:", relative) or "://" in relative:
        return "it is a URL; only files inside the package are read", "URL です。パッケージ内のファイルしか読みません"
    if relative.startswith(("/", "\\", "~")) or PureWindowsPath(relative).drive or PureWindowsPath(relative).root:
        return "it is an absolute path; give a path relative to the package folder", "絶対パスです。パッケージのフォルダーからの相対パスにしてください"
    if ".." in PurePosixPath(relative.replace("\\", "/")).parts:
        return "it goes up out of the folder with ..", ".. でフォルダーの外に出ています"
    try:
        (folder / relative).resolve().relative_to(folder.resolve())
    except ValueError:
        return "a symbolic link on the way leads outside the folder", "途中のシンボリックリンクがフォルダーの外を指しています"
    except (OSError, RuntimeError):
        return "it cannot be resolved (a loop of symbolic links?)", "パスを解決できません（シンボリックリンクの循環など）"
    return None


def inside(folder: Path, relative: object) -> Path | None:
    """``folder / relative`` when it stays inside `folder`, else None."""
    return None if path_problem(folder, relative) else folder / str(relative)


def contained(folder: Path, relative: object) -> Path:
    """``folder / relative``, or :class:`UnsafePath` saying why it may not be read."""
    problem = path_problem(folder, relative)
    if problem:
        raise UnsafePath(*problem)
    return folder / str(relative)
