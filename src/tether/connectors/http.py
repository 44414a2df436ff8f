"""The webhook sink (EMQX's `http` connector and action): one request per output with httpx, to the
connector's URL followed by the action's path. 2xx/3xx: delivered; other 4xx: refused (not retried); 5xx and
429: retried `max_retries` times with backoff, then failed; no connection: the server is unavailable and the
output waits in the buffer. An https URL is verified with the connector's `ssl` (connectors/tls.py), or with
the system's CAs when it is not enabled."""

from __future__ import annotations

import asyncio
import itertools
import ssl
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from tether.rules.connector_service import SinkTemplate
from tether.rules.connectors import duration_ms
from tether.rules.sink_templates import HttpTemplate

from .base import Outcome, SinkUnavailable, reason_of
from .tls import client_context, sni_name

__all__ = ["HttpClient"]

_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


class _NotSent:
    """An output of the batch not sent (its server went away first)."""


_NOT_SENT = _NotSent()


class HttpClient:
    def __init__(self, config: dict[str, Any]) -> None:
        self.url = config["url"].rstrip("/")
        self.headers = dict(config["headers"])
        connect = duration_ms(config["connect_timeout"], "connect_timeout", "connectors") or 15_000
        parts = urlsplit(self.url)
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        #: TLS (an https URL): the connector's `ssl` when enabled, else the system's CAs (httpx's default).
        self.tls: ssl.SSLContext | None = None
        self.tls_problem: str | None = None  # a file of `ssl` that cannot be loaded: the server is unusable
        try:
            self.tls = client_context(config)
        except SinkUnavailable as exc:
            self.tls_problem = exc.reason
        self.extensions = {"sni_hostname": name} if (name := sni_name(config)) else {}
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(15, connect=connect / 1000),
            limits=httpx.Limits(max_connections=max(1, config["pool_size"])),
            verify=self.tls if self.tls is not None else True,
        )

    async def check(self) -> None:
        """EMQX's health check of an HTTP connector: the server accepts a TCP connection (and, for https,
        a TLS handshake with the connector's `ssl`)."""
        if self.tls_problem is not None:
            raise SinkUnavailable(self.tls_problem)
        tls = self.tls
        if tls is None and urlsplit(self.url).scheme == "https":
            tls = ssl.create_default_context()
        server_hostname = (self.extensions.get("sni_hostname") or self.host) if tls is not None else None
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port, ssl=tls, server_hostname=server_hostname), 15
            )
        except (OSError, TimeoutError) as exc:  # ssl.SSLError is an OSError: e.g. a certificate refused
            raise SinkUnavailable(reason_of(exc)) from None
        writer.close()

    async def send(self, template: SinkTemplate, outputs: Sequence[dict[str, Any]]) -> list[Outcome]:
        """The outputs of one client (`clientid`) one after the other, those of different clients at once
        (up to the pool's connections): order is kept per client, as the broker keeps it."""
        assert isinstance(template, HttpTemplate)
        groups: dict[object, list[int]] = {}
        for i, output in enumerate(outputs):
            groups.setdefault(output.get("clientid"), []).append(i)
        outcomes: list[Outcome | _NotSent] = [_NOT_SENT] * len(outputs)
        lost: list[str] = []

        async def one_client(indexes: list[int]) -> None:
            for i in indexes:
                try:
                    outcomes[i] = await self._one(template, outputs[i])
                except SinkUnavailable as exc:
                    lost.append(exc.reason)
                    return

        await asyncio.gather(*(one_client(indexes) for indexes in groups.values()))
        if lost:  # what was sent before the first output that was not is done; the rest is sent again
            done = list(itertools.takewhile(lambda o: o is not _NOT_SENT, outcomes))
            raise SinkUnavailable(lost[0], done)  # type: ignore[arg-type]
        return outcomes  # type: ignore[return-value]

    async def _one(self, template: HttpTemplate, output: dict[str, Any]) -> Outcome:
        try:
            path, headers, body = template.render(output)
        except Exception as exc:  # a template that cannot be rendered with this output
            return f"cannot render the request: {reason_of(exc)}"
        all_headers = {**self.headers, **dict(headers)}
        all_headers.setdefault("content-type", "application/json")
        url = self.url + ("" if not path else path if path.startswith("/") else "/" + path)
        return await self._request(template, url, all_headers, body)

    async def _request(
        self, template: HttpTemplate, url: str, headers: dict[str, str], body: bytes
    ) -> Outcome:
        if self.tls_problem is not None:
            raise SinkUnavailable(self.tls_problem)
        attempt, method = 0, template.method
        timeout = httpx.Timeout(template.timeout_ms / 1000, connect=self.client.timeout.connect)
        while True:
            try:
                response = await self.client.request(
                    method, url, headers=headers, content=body if method != "GET" else None, timeout=timeout,
                    extensions=self.extensions,
                )  # fmt: skip
            except (
                httpx.ConnectError,
                httpx.ConnectTimeout,
                httpx.RemoteProtocolError,
                httpx.ReadError,
                httpx.WriteError,
                httpx.PoolTimeout,
            ) as exc:
                raise SinkUnavailable(reason_of(exc)) from None
            except httpx.HTTPError as exc:  # e.g. a read timeout: the server is there but did not answer
                status, reason = 0, reason_of(exc)
            else:
                status, reason = response.status_code, f"HTTP {response.status_code}"
                if status < 400:
                    return None
                if status not in _RETRY_STATUS:
                    return reason
            if attempt >= template.max_retries:
                return reason
            attempt += 1
            await asyncio.sleep(min(0.1 * 2**attempt, 2.0))

    async def close(self) -> None:
        await self.client.aclose()
