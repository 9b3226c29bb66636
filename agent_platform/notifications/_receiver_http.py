"""The lean HTTP/1.1 parts of the loopback webhook receiver (:mod:`.testing`).

The receiver shares the machine with the dispatchers it measures, so its own cost per request
is taken from theirs. Profiling it under load put half of it in the standard library's request
handler: header parsing through the ``email`` package (a full MIME parser per request) and a
response assembled header by header with a freshly formatted ``Date``. These replacements parse
header lines directly into the same ``http.client.HTTPMessage`` type and write each answer in
one piece, with the date formatted once a second. Anything unusual in a request line goes to
the standard parser, which answers it with the proper error.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler

__all__ = ["http_date", "parse_request", "response_bytes"]

_MAX_HEADERS = 100
_MAX_LINE = 65536
_date_cache: tuple[int, str] = (0, "")


def http_date() -> str:
    """The current ``Date`` header value, formatted at most once a second."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, email.utils.formatdate(now, usegmt=True))
    return _date_cache[1]


def parse_request(handler: BaseHTTPRequestHandler, raw_requestline: bytes) -> bool:
    """Parse the request line the handler read and the header lines; False once an error was
    sent.

    Sets what ``BaseHTTPRequestHandler.parse_request`` sets (command, path, version,
    request line, headers, close_connection) for an ``HTTP/1.x`` request.
    """
    words = raw_requestline.decode("iso-8859-1").rstrip("\r\n").split()
    if len(words) != 3 or words[2] not in ("HTTP/1.0", "HTTP/1.1"):
        return bool(BaseHTTPRequestHandler.parse_request(handler))
    handler.command, handler.path, handler.request_version = words
    handler.requestline = " ".join(words)
    headers = _read_headers(handler)
    if headers is None:
        return False
    handler.headers = headers
    connection = headers.get("Connection", "").lower()
    keep_alive = words[2] == "HTTP/1.1" or connection == "keep-alive"
    handler.close_connection = connection == "close" or not keep_alive
    if headers.get("Expect", "").lower() == "100-continue":
        return bool(handler.handle_expect_100())
    return True


def _read_headers(handler: BaseHTTPRequestHandler) -> http.client.HTTPMessage | None:
    headers = http.client.HTTPMessage()
    last: str | None = None
    for _ in range(_MAX_HEADERS + 1):
        line = handler.rfile.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            handler.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Line too long")
            return None
        if line in (b"\r\n", b"\n", b""):
            return headers
        text = line.decode("iso-8859-1").rstrip("\r\n")
        if text[:1] in (" ", "\t") and last is not None:  # an obsolete folded continuation
            value = f"{headers[last]} {text.strip()}"
            del headers[last]
            headers[last] = value
            continue
        name, colon, value = text.partition(":")
        if not colon or not name or name != name.strip():
            handler.send_error(HTTPStatus.BAD_REQUEST, "Bad header line")
            return None
        headers[name] = value.strip()
        last = name
    handler.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Too many headers")
    return None


def response_bytes(status: int, extra: dict[str, str], server: str) -> bytes:
    """A whole JSON ``{"status": N}`` answer: status line, headers, body."""
    body = json.dumps({"status": status}).encode()
    phrase = HTTPStatus(status).phrase
    lines = [
        f"HTTP/1.1 {status} {phrase}",
        f"Server: {server}",
        f"Date: {http_date()}",
        *(f"{name}: {value}" for name, value in extra.items()),
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
