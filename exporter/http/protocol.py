"""HTTP/1.1 framing for server.py: read one request head from a stream, write one response.

Only what the exporter's routes need: GET and HEAD with a request target and headers. A request body
is never read (a request that announces one is answered, then its connection is closed), responses
always carry Content-Length (no chunked encoding), and requests on one connection are answered in order.
Sizes are bounded so that a client cannot make the server buffer without limit: a line of at most
MAX_LINE bytes, at most MAX_HEADERS header lines.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus

MAX_LINE = 8192  # bytes in the request line or one header line (the StreamReader's limit)
MAX_HEADERS = 100
SERVER_NAME = "qbittorrent-monitor"


class BadRequest(Exception):
    """The client sent something that is not a request we answer; `status` says what to reply."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class Headers(Mapping[str, str]):
    """Request headers: looked up case-insensitively ("accept" finds "Accept"), iterated with the names
    the client sent. A repeated header is joined with ", " (RFC 9110 5.3)."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: dict[str, tuple[str, str]] = {}
        for name, value in items:
            key = name.lower()
            if key in self._items:
                value = f"{self._items[key][1]}, {value}"
            self._items[key] = (name, value)

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def tokens(self, name: str) -> set[str]:
        """The comma-separated tokens of a header, lower-cased: {"close"} for "Connection: Close"."""
        return {t.strip().lower() for t in self.get(name, "").split(",") if t.strip()}


@dataclass(frozen=True)
class Request:
    method: str
    target: str  # as sent: "/metrics?x=1"
    version: str  # "HTTP/1.0" or "HTTP/1.1"
    headers: Headers

    @property
    def path(self) -> str:
        return self.target.partition("?")[0]

    @property
    def query(self) -> dict[str, str]:
        """{name: value} of the query string, values left percent-encoded (the routes unquote)."""
        text = self.target.partition("?")[2]
        return dict(p.partition("=")[::2] for p in text.split("&") if p)

    @property
    def has_body(self) -> bool:
        return "Transfer-Encoding" in self.headers or self.headers.get("Content-Length", "0").strip() != "0"

    @property
    def keep_alive(self) -> bool:
        """The connection may serve another request after this one (HTTP/1.1 unless "close"; HTTP/1.0
        only with "keep-alive"). A body we did not read leaves the stream unusable: close."""
        connection = self.headers.tokens("Connection")
        if "close" in connection or self.has_body:
            return False
        return self.version == "HTTP/1.1" or "keep-alive" in connection


async def read_request(reader: asyncio.StreamReader, first: bytes) -> Request:
    """The request whose first byte (`first`) was already read. Raises BadRequest for what we do not
    answer, EOFError if the client closes mid-head. The caller bounds the time it may take."""
    line = first + await _line(reader)
    while line in (b"\r\n", b"\n"):  # RFC 9112 2.2: ignore an empty line before the request line
        line = await _line(reader)
    method, target, version = _request_line(line)
    fields: list[tuple[str, str]] = []
    while (line := await _line(reader)) not in (b"\r\n", b"\n"):
        if len(fields) >= MAX_HEADERS:
            raise BadRequest(431, "too many header lines")
        fields.append(_header_line(line))
    return Request(method, target, version, Headers(fields))


async def _line(reader: asyncio.StreamReader) -> bytes:
    try:
        line = await reader.readline()
    except ValueError:  # longer than the reader's limit (MAX_LINE)
        raise BadRequest(431, "line too long") from None
    if not line.endswith(b"\n"):
        raise EOFError("client closed the connection during the request head")
    return line


def _request_line(line: bytes) -> tuple[str, str, str]:
    parts = line.decode("latin-1").rstrip("\r\n").split(" ")
    if len(parts) != 3:  # an HTTP/0.9 "GET /path" has no version: not served
        raise BadRequest(400, "malformed request line")
    method, target, version = parts
    if not method.isalpha() or not method.isupper() or not target.startswith("/"):
        raise BadRequest(400, "malformed request line")
    if version not in ("HTTP/1.0", "HTTP/1.1"):
        raise BadRequest(505 if version.startswith("HTTP/") else 400, "unsupported HTTP version")
    return method, target, version


def _header_line(line: bytes) -> tuple[str, str]:
    text = line.decode("latin-1").rstrip("\r\n")
    name, sep, value = text.partition(":")
    if not sep or not name or name != name.strip() or " " in name or "\t" in name:
        raise BadRequest(400, "malformed header line")  # also obsolete line folding (RFC 9112 5.2)
    return name, value.strip(" \t")


def encode_response(
    status: int,
    content_type: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    head_only: bool = False,
    close: bool = False,
) -> bytes:
    """The bytes of one response; for HEAD (`head_only`) the same head, Content-Length included,
    without the body."""
    lines = [
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
        f"Server: {SERVER_NAME}",
        f"Date: {formatdate(usegmt=True)}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    if close:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if head_only else head + body
