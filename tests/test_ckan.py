"""CKAN: the package_create-ready JSON, and `pipeline publish` (dry run, key handling, what is sent).

The real run is checked against a small recording server on 127.0.0.1 that
answers CKAN's action API for the calls publishing makes (package_show,
package_create/patch, resource_create/patch): the test sees exactly what
ckanapi sent, headers and uploaded bytes included. No other network.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import json
import shutil
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from pipeline import ckan
from pipeline.build import build
from pipeline.config import Config

from .conftest import SEED


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory, config: Config) -> Path:
    out = tmp_path_factory.mktemp("ckan") / "package"
    assert build([SEED], config, out).published == out
    return out


def files_of(package: Path) -> dict[str, bytes]:
    descriptor = json.loads((package / "datapackage.json").read_text(encoding="utf-8"))
    paths = [r["path"] for r in descriptor["resources"]] + ["datapackage.json"]
    return {p: (package / p).read_bytes() for p in paths}


def test_package_json_is_ready_for_package_create(package: Path) -> None:
    descriptor = json.loads((package / "datapackage.json").read_text(encoding="utf-8"))
    data = json.loads((package / "ckan-package.json").read_text(encoding="utf-8"))
    assert data["name"] == descriptor["name"] and data["name"].isascii()
    assert data["title"] == descriptor["title"] and data["license_id"] == "PDL-1.0"
    assert [t["name"] for t in data["tags"]] == descriptor["keywords"]
    extras = {e["key"]: e["value"] for e in data["extras"]}
    assert extras["title_en"] == descriptor["x_title_en"] and extras["temporal_start"] == "2024-04-01"
    assert all(e["value"] for e in data["extras"])  # CKAN rejects nothing, and nothing empty is sent
    files = files_of(package)
    assert len(data["resources"]) == len(files) == 13
    for resource in data["resources"]:
        path = ckan.local_path(data, resource)
        assert resource["url"] == data["url"] + path
        assert resource["size"] == len(files[path])
        assert resource["hash"] == hashlib.sha256(files[path]).hexdigest()


def test_plan_creates_new_and_updates_existing_by_name(package: Path) -> None:
    data = ckan.load_package(package)
    new = ckan.plan_publish(data, None, "toyooka")
    assert [c.action for c in new.calls] == ["package_create"] + ["resource_create"] * 13
    assert new.calls[0].data["owner_org"] == "toyooka" and "resources" not in new.calls[0].data
    assert {c.upload for c in new.calls[1:]} == set(files_of(package))
    existing = {"id": "abc", "resources": [{"id": "r1", "name": data["resources"][0]["name"]}, {"id": "old", "name": "gone"}]}
    update = ckan.plan_publish(data, existing, None)
    assert [c.action for c in update.calls[:3]] == ["package_patch", "resource_patch", "resource_create"]
    assert update.calls[0].data["id"] == "abc" and update.calls[1].data["id"] == "r1"
    assert all(c.data.get("id") != "old" for c in update.calls)  # resources not in the package are left alone


def test_an_altered_file_is_not_published(package: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(package, copy)
    target = copy / "data" / "incidents.csv"
    target.write_bytes(target.read_bytes().replace("豊岡市".encode(), "豊岡町".encode(), 1))
    with pytest.raises(ckan.PublishError, match="incidents.csv"):
        ckan.load_package(copy)


def test_dry_run_shows_every_call_and_sends_nothing(run: Callable[..., Result], package: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CKAN_API_KEY", raising=False)
    result = run("publish", str(package), "--ckan", "http://127.0.0.1:9", "--owner-org", "toyooka", "--dry-run")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["api_key_from"] == "$CKAN_API_KEY (not set)"
    actions = [c["action"] for c in shown["calls"]]
    assert actions == ["package_create"] + ["resource_create"] * 13
    uploads = {Path(c["upload"]["file"]).relative_to(package).as_posix(): c["upload"]["bytes"] for c in shown["calls"][1:]}
    assert uploads == {p: len(b) for p, b in files_of(package).items()}


def test_the_api_key_comes_only_from_the_environment(run: Callable[..., Result], package: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CKAN_API_KEY", raising=False)
    missing = run("publish", str(package), "--ckan", "http://127.0.0.1:9")
    assert missing.exit_code == 2 and "CKAN_API_KEY" in missing.output
    assert run("publish", str(package), "--ckan", "http://127.0.0.1:9", "--api-key", "secret").exit_code == 2
    assert run("publish", str(package), "--ckan", "ftp://example.org").exit_code == 2


class Recorder(BaseHTTPRequestHandler):
    """Answers CKAN action API calls and records them (one dataset, in memory)."""

    calls: list[dict[str, Any]] = []
    dataset: dict[str, Any] | None = None

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        action = self.path.rsplit("/", 1)[-1]
        body = self.rfile.read(int(self.headers["Content-Length"]))
        data, uploads = self.parse(body)
        type(self).calls.append({"action": action, "data": data, "uploads": uploads, "path": self.path,
                                 "authorization": self.headers.get("Authorization")})
        status, answer = self.answer(action, data)
        raw = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def parse(self, body: bytes) -> tuple[dict[str, Any], dict[str, bytes]]:
        kind = self.headers.get("Content-Type", "")
        if not kind.startswith("multipart/"):
            return json.loads(body or b"{}"), {}
        message = email.message_from_bytes(f"Content-Type: {kind}\r\n\r\n".encode() + body, policy=email.policy.HTTP)
        data, uploads = {}, {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if part.get_filename():
                uploads[name] = part.get_payload(decode=True)
            else:
                data[name] = part.get_payload(decode=True).decode("utf-8")  # requests sends fields as UTF-8
        return data, uploads

    def answer(self, action: str, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        cls = type(self)
        if action == "package_show":
            if cls.dataset is None:
                return 404, {"success": False, "error": {"__type": "Not Found Error", "message": "Not found"}}
            return 200, {"success": True, "result": cls.dataset}
        if action in ("package_create", "package_patch"):
            cls.dataset = cls.dataset or {"id": "pkg-1", "name": data["name"], "resources": []}
            return 200, {"success": True, "result": cls.dataset}
        if action == "resource_create":
            resource = {"id": f"res-{len(cls.dataset['resources']) + 1}", "name": data["name"]}  # type: ignore[index]
            cls.dataset["resources"].append(resource)  # type: ignore[index]
            return 200, {"success": True, "result": resource}
        return 200, {"success": True, "result": {"id": data.get("id")}}


@pytest.fixture()
def portal() -> Iterator[str]:
    Recorder.calls, Recorder.dataset = [], None
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_publish_creates_then_updates_and_uploads_every_file(run: Callable[..., Result], package: Path, portal: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CKAN_API_KEY", "test-key-123")
    first = run("publish", str(package), "--ckan", portal, "--owner-org", "toyooka")
    assert first.exit_code == 0, first.output
    calls = Recorder.calls
    assert [c["action"] for c in calls] == ["package_show", "package_create"] + ["resource_create"] * 13
    assert {c["authorization"] for c in calls} == {"test-key-123"}
    assert all("test-key-123" not in c["path"] and "test-key-123" not in json.dumps(c["data"]) for c in calls)
    assert calls[1]["data"]["owner_org"] == "toyooka" and calls[1]["data"]["name"] == "toyooka-jimu-shori-ayamari"
    files = files_of(package)
    data = json.loads((package / "ckan-package.json").read_text(encoding="utf-8"))
    expected = {r["name"]: files[ckan.local_path(data, r)] for r in data["resources"]}
    sent = {c["data"]["name"]: c["uploads"]["upload"] for c in calls[2:]}
    assert sent == expected  # each file, byte for byte, to the resource that describes it
    assert {c["data"]["hash"] for c in calls[2:]} == {hashlib.sha256(b).hexdigest() for b in files.values()}

    Recorder.calls = []
    second = run("publish", str(package), "--ckan", portal, "--owner-org", "toyooka")
    assert second.exit_code == 0, second.output
    assert [c["action"] for c in Recorder.calls] == ["package_show", "package_patch"] + ["resource_patch"] * 13
    assert {c["data"]["id"] for c in Recorder.calls[2:]} == {f"res-{i}" for i in range(1, 14)}


def test_a_refusal_from_ckan_is_reported_with_exit_1(run: Callable[..., Result], package: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CKAN_API_KEY", "k")
    result = run("publish", str(package), "--ckan", "http://127.0.0.1:9")  # nothing listens on port 9
    assert result.exit_code == 1 and "error:" in result.output
