"""api/http.py base_url: remembered by what it depends on, always what starlette computes."""

from __future__ import annotations

import itertools

from starlette.requests import Request

from tether.api.http import base_url


def test_base_url_is_starlettes_for_every_scope() -> None:
    hosts = [None, b"example.com", b"example.com:8443", b"[::1]:80", b"bad host:x"]
    servers = [None, ("10.0.0.1", 80), ("10.0.0.1", 8080), ("::1", 443)]
    for scheme, server, root, host in itertools.product(["http", "https"], servers, ["", "/t"], hosts):
        headers = [] if host is None else [(b"host", host)]
        scope = {"type": "http", "scheme": scheme, "server": server, "root_path": root, "path": "/x/y"}
        scope |= {"query_string": b"a=1", "headers": headers, "method": "GET"}
        for _ in range(2):  # computed, then remembered
            assert base_url(Request(scope)) == str(Request(scope).base_url).rstrip("/"), scope
