"""The console's files: served by `tether serve` at / and under /ui/ with the security headers, shipped as
package data, self-contained (no inline script, nothing from another origin)."""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch
from importlib import resources
from pathlib import Path

import httpx
from tests.support import ServerThread

from tether.api.console import HEADERS, load_assets

ROOT = Path(__file__).resolve().parents[2]


def test_root_and_ui_paths_answer_the_application_with_its_headers(server: ServerThread) -> None:
    for path in ("/", "/ui", "/ui/", "/ui/devices", "/ui/devices/42?tab=alarms", "/ui/login"):
        answer = httpx.get(server.url + path)
        assert answer.status_code == 200, path
        assert answer.headers["content-type"] == "text/html; charset=utf-8"
        assert '<script type="module" src="/ui/js/app.js"></script>' in answer.text
        csp = answer.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        for name, value in HEADERS.items():
            assert answer.headers[name] == value


def test_files_have_their_types_gzip_and_etags(server: ServerThread) -> None:
    script = httpx.get(server.url + "/ui/js/app.js", headers={"Accept-Encoding": "gzip"})
    assert script.status_code == 200
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert script.headers["content-encoding"] == "gzip" and "import" in script.text
    assert script.headers["x-content-type-options"] == "nosniff"
    style = httpx.get(server.url + "/ui/css/console.css")
    assert style.headers["content-type"] == "text/css; charset=utf-8"
    again = httpx.get(server.url + "/ui/css/console.css", headers={"If-None-Match": style.headers["etag"]})
    assert again.status_code == 304
    head = httpx.head(server.url + "/ui/")
    assert head.status_code == 200 and head.content == b""


def test_the_console_needs_no_credentials_but_its_apis_do(server: ServerThread) -> None:
    """The files are public (they hold no data); every call they make is authenticated by the API."""
    assert httpx.get(server.url + "/ui/js/api.js").status_code == 200
    assert httpx.get(server.url + "/inventory/managedObjects").status_code == 401


def test_every_console_file_is_package_data() -> None:
    """`pip install .` ships every file: each is matched by a [tool.setuptools.package-data] pattern."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = setuptools["package-data"]["tether"]
    console = ROOT / "src" / "tether" / "console"
    files = [p.relative_to(console.parent).as_posix() for p in console.rglob("*") if p.is_file()]
    assert "console/index.html" in files and "console/js/app.js" in files
    for name in files:
        # setuptools globs: '*' does not cross '/'
        assert any(fnmatch(name, p) and name.count("/") == p.count("/") for p in patterns), name
    # ... and the server reads them from the installed package.
    assert set(load_assets()) == {f.removeprefix("console/") for f in files}
    assert (resources.files("tether") / "console" / "index.html").is_file()


def test_no_inline_script_and_nothing_from_another_origin() -> None:
    for name, asset in load_assets().items():
        text = asset.body.decode()
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text), f"{name} names another origin"
        if name.endswith(".html"):
            assert re.findall(r"<script(?![^>]*\bsrc=)", text) == [], "inline script"
            assert "style=" not in text and "<style" not in text
        if name.endswith(".js"):
            assert ".innerHTML" not in text and "eval(" not in text, name
