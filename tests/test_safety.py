"""Hostile files and paths are refused before anything opens them, with a reason a clerk
can act on: zip bombs, files disguised as .xlsx, XML entity declarations, paths leading out."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from pipeline.safety import MiB, UnsafeFile, UnsafePath, XlsxLimits, check_xlsx, contained, inside
from pipeline.verify import verify_package

from .conftest import ROOT, SEED

SEED_XLSX = ROOT / "tests" / "fixtures" / "forms" / "seed.xlsx"
CONTENT_TYPES = b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'
WORKBOOK = b'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"/>'


def workbook_zip(path: Path, parts: dict[str, bytes | tuple[bytes, int]]) -> Path:
    """A zip laid out as a workbook; a part given as (block, n) is the block repeated n times,
    written in a stream so that a bomb never sits in memory."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("xl/workbook.xml", WORKBOOK)
        for name, content in parts.items():
            if isinstance(content, bytes):
                archive.writestr(name, content)
                continue
            block, times = content
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w", force_zip64=True) as stream:
                for _ in range(times):
                    stream.write(block)
    return path


def refused(path: Path, limits: XlsxLimits = XlsxLimits()) -> UnsafeFile:
    with pytest.raises(UnsafeFile) as caught:
        check_xlsx(path, limits)
    return caught.value


def test_a_real_workbook_passes() -> None:
    check_xlsx(SEED_XLSX)


def test_zip_bomb_over_the_size_limit(tmp_path: Path) -> None:
    sheet = b"<row><c/></row>" * 4096  # 60 KiB, inflating about 1000 times
    bomb = workbook_zip(tmp_path / "bomb.xlsx", {"xl/worksheets/sheet1.xml": (sheet, 2000)})  # ~117 MiB unpacked
    assert bomb.stat().st_size < 400 * 1024
    error = refused(bomb)
    assert "would unpack to 117 MiB, more than the 100 MiB allowed" in error.reason
    assert "展開すると 117 MiB" in error.reason_ja


def test_zip_bomb_over_the_ratio(tmp_path: Path) -> None:
    bomb = workbook_zip(tmp_path / "ratio.xlsx", {"xl/worksheets/sheet1.xml": (b"\0" * MiB, 5)})
    error = refused(bomb)
    assert "its part xl/worksheets/sheet1.xml inflates" in error.reason and "more than 100:1" in error.reason


def test_small_repetitive_parts_are_within_the_grace(tmp_path: Path) -> None:
    check_xlsx(workbook_zip(tmp_path / "ok.xlsx", {"xl/styles.xml": b"<x/>" * 100_000}))  # 400 KB, very compressible


def test_file_size_limit(tmp_path: Path) -> None:
    error = refused(SEED_XLSX, XlsxLimits(max_file_bytes=1000))
    assert error.reason == f"it is {SEED_XLSX.stat().st_size // 1024} KiB, more than the 1 KiB allowed for a workbook"


@pytest.mark.parametrize(("head", "words"), [
    (b"<!DOCTYPE html>\n<html><body><table><tr><td>No</td></tr></table></body></html>", "really a web page (HTML)"),
    (b"\xef\xbb\xbf<html><head><meta charset='utf-8'></head></html>", "really a web page (HTML)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "really an old-style .xls workbook or a password-protected workbook"),
    (b'<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"/>', "really an XML file"),
    ("No,発生日 (判明日)\n1,2024.4.8\n".encode("cp932"), "really a text file"),
    (b"%PDF-1.7\n", "really a PDF document"),
    (b"\x00\x01\x02\x03" * 100, "really some other kind of file"),
])
def test_disguised_as_xlsx(tmp_path: Path, head: bytes, words: str) -> None:
    path = tmp_path / "report.xlsx"
    path.write_bytes(head)
    error = refused(path)
    assert words in error.reason and "save it from Excel as a workbook (.xlsx)" in error.reason
    assert "拡張子は .xlsx ですが" in error.reason_ja


def test_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "report.xlsx"
    path.write_bytes(b"")
    assert refused(path).reason == "the file is empty"


def test_a_zip_that_is_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "report.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("word/document.xml", b"<w/>")
    assert "not an Excel workbook (no xl/workbook.xml inside)" in refused(path).reason


def test_xml_entity_declarations_are_refused(tmp_path: Path) -> None:
    laughs = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
              b"<worksheet>&lol2;</worksheet>")
    path = workbook_zip(tmp_path / "laughs.xlsx", {"xl/worksheets/sheet1.xml": laughs})
    assert "declares an XML DOCTYPE or ENTITY" in refused(path).reason
    utf16 = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY e "e">]><x/>'.encode("utf-16-le")
    path = workbook_zip(tmp_path / "utf16.xlsx", {"xl/sharedStrings.xml": utf16})
    assert "DOCTYPE or ENTITY" in refused(path).reason


def test_a_damaged_workbook(tmp_path: Path) -> None:
    path = tmp_path / "cut.xlsx"
    path.write_bytes(SEED_XLSX.read_bytes()[: SEED_XLSX.stat().st_size // 2])
    assert "the workbook is damaged" in refused(path).reason


def test_a_part_lying_about_its_size_fails_its_crc(tmp_path: Path) -> None:
    path = workbook_zip(tmp_path / "lie.xlsx", {"xl/worksheets/sheet1.xml": b"<row/>" * 10_000})
    data = bytearray(path.read_bytes())
    central = data.rfind(b"PK\x01\x02")  # the last part's central directory entry: declare it 60 bytes
    data[central + 24 : central + 28] = (60).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    assert "the workbook is damaged" in refused(path).reason


def test_the_refusal_becomes_a_problem_in_both_languages(tmp_path: Path) -> None:
    path = tmp_path / "report.xlsx"
    path.write_bytes(b"<html></html>")
    problem = refused(path).problem("report.xlsx")
    assert problem.code == "unsafe-file" and problem.file == "report.xlsx"
    assert problem.message("en").startswith("refusing to open the file: it is named .xlsx but is really a web page")
    assert problem.message("ja").startswith("安全のため、このファイルは開きません: 拡張子は .xlsx ですが、中身はWeb ページ (HTML)です")


def test_an_html_xlsx_in_a_build_publishes_nothing(tmp_path: Path, run: Callable[..., Result]) -> None:
    out = tmp_path / "out"
    assert run("build", str(SEED), "--out", str(out)).exit_code == 0
    before = sorted(p.read_bytes() for p in out.rglob("*") if p.is_file())
    disguised = tmp_path / "in" / "report.xlsx"
    disguised.parent.mkdir()
    disguised.write_bytes(b"<!DOCTYPE html><html><body><table></table></body></html>")
    result = run("build", str(disguised), "--out", str(out))
    assert result.exit_code == 1
    assert "report.xlsx" in result.stderr and "really a web page (HTML)" in result.stderr
    assert sorted(p.read_bytes() for p in out.rglob("*") if p.is_file()) == before


# --- paths named in descriptors -------------------------------------------------------------

@pytest.mark.parametrize(("relative", "words"), [
    ("../secret.csv", "goes up out of the folder"),
    ("data/../../secret.csv", "goes up out of the folder"),
    ("data\\..\\..\\secret.csv", "goes up out of the folder"),
    ("/etc/passwd", "absolute path"),
    ("\\\\server\\share\\x.csv", "absolute path"),
    ("C:\\Users\\x.csv", "absolute path"),
    ("~/x.csv", "absolute path"),
    ("https://example.com/x.csv", "URL"),
    ("file:///etc/passwd", "URL"),
    ("", "not a single file path"),
    (["data/a.csv", "data/b.csv"], "not a single file path"),
])
def test_paths_leading_out_are_refused(tmp_path: Path, relative: object, words: str) -> None:
    assert inside(tmp_path, relative) is None
    with pytest.raises(UnsafePath) as caught:
        contained(tmp_path, relative)
    assert words in caught.value.reason


def test_symbolic_links(tmp_path: Path) -> None:
    folder, outside = tmp_path / "package", tmp_path / "outside.csv"
    (folder / "data").mkdir(parents=True)
    outside.write_text("secret", encoding="utf-8")
    (folder / "data" / "real.csv").write_text("a", encoding="utf-8")
    os.symlink(outside, folder / "data" / "out.csv")
    os.symlink(folder / "data" / "real.csv", folder / "data" / "in.csv")
    os.symlink(tmp_path, folder / "up")
    assert inside(folder, "data/in.csv") == folder / "data" / "in.csv"
    assert inside(folder, "data/real.csv") == folder / "data" / "real.csv"
    assert inside(folder, "data/out.csv") is None
    with pytest.raises(UnsafePath, match="symbolic link on the way leads outside"):
        contained(folder, "up/outside.csv")


def test_verify_refuses_a_package_whose_paths_lead_out(tmp_path: Path, run: Callable[..., Result]) -> None:
    out = tmp_path / "out"
    assert run("build", str(SEED), "--out", str(out)).exit_code == 0
    assert verify_package(out) == []
    secret = tmp_path / "secret.csv"
    shutil.copy(out / "data" / "reports.csv", secret)
    (out / "data" / "reports.csv").unlink()
    os.symlink(secret, out / "data" / "reports.csv")
    descriptor_path = out / "datapackage.json"
    descriptor = json.loads(descriptor_path.read_text(encoding="utf-8"))
    descriptor["resources"][1]["path"] = "../secret.csv"
    descriptor_path.write_text(json.dumps(descriptor, ensure_ascii=False), encoding="utf-8")
    problems = verify_package(out)
    assert "data/reports.csv: a symbolic link on the way leads outside the folder; refusing to read it" in problems
    assert any(p.startswith("../secret.csv: it goes up out of the folder with ..") for p in problems)
