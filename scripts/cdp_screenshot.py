"""Screenshot a web page in headless Chromium after clicking through it (DevTools protocol).

Why it exists: a Dagster asset's Plots view is a toggle inside the page, not a URL, so the
plain ``chromium --screenshot`` cannot reach it. This starts its own headless Chromium with a
DevTools port, opens the page, clicks the named buttons in order (a name starting with ``?``
is clicked only if it shows up, e.g. a first-visit dialog), waits for the page to settle and
writes a PNG. Exit 1 with one line when a required button never appears.

    python scripts/cdp_screenshot.py URL OUT.png --click ?Skip --click Events --click Plots
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

CLICK_JS = """(() => {
  const want = %s;
  const hit = [...document.querySelectorAll('button, a, [role="tab"], [role="button"]')]
    .find(e => e.innerText && e.innerText.trim() === want && e.offsetParent !== null);
  if (hit) { hit.click(); return true; }
  return false;
})()"""


class Page:
    """One DevTools page session: numbered commands over the page's websocket."""

    def __init__(self, socket: ClientConnection) -> None:
        self._socket = socket
        self._ids = itertools.count(1)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        number = next(self._ids)
        self._socket.send(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv(timeout=60))
            if message.get("id") == number:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))

    def click(self, text: str, deadline: float) -> bool:
        while time.monotonic() < deadline:
            result = self.call("Runtime.evaluate", expression=CLICK_JS % json.dumps(text))
            if result.get("result", {}).get("value") is True:
                return True
            time.sleep(0.5)
        return False


def _launch(profile: str) -> tuple[subprocess.Popen[str], str]:
    browser = subprocess.Popen(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "about:blank",
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert browser.stderr is not None
    for line in browser.stderr:
        found = re.search(r"DevTools listening on (ws://[^\s]+)", line)
        if found:
            port = found.group(1).split(":")[2].split("/")[0]
            return browser, port
    raise RuntimeError("chromium exited before opening its DevTools port")


def _page_socket(port: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
        targets = json.loads(answer.read())
    return str(next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"])


def _click_through(page: Page, clicks: list[str], timeout: float, optional_wait: float) -> str:
    """Click each button in order; the first required one that never showed up, else ''."""
    deadline = time.monotonic() + timeout
    for text in clicks:
        optional = text.startswith("?")
        until = min(deadline, time.monotonic() + optional_wait) if optional else deadline
        if not page.click(text.lstrip("?"), until) and not optional:
            return text
    return ""


def shoot(args: argparse.Namespace) -> int:
    # Chromium's helper processes may still write into the profile as the browser is killed:
    # a profile folder that cannot be removed at once must not lose the screenshot.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        browser, port = _launch(profile)
        try:
            with connect(_page_socket(port), max_size=None) as socket:
                page = Page(socket)
                page.call(
                    "Emulation.setDeviceMetricsOverride",
                    width=args.width,
                    height=args.height,
                    deviceScaleFactor=1,
                    mobile=False,
                )
                page.call("Page.navigate", url=args.url)
                missing = _click_through(page, args.click, args.timeout, args.optional_wait)
                if missing:
                    print(f"cdp_screenshot: no button {missing!r} on {args.url}", file=sys.stderr)
                    return 1
                time.sleep(args.settle)
                shot = page.call("Page.captureScreenshot", format="png")
        finally:
            browser.kill()
            browser.wait(timeout=10)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_bytes(base64.b64decode(shot["data"]))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("out")
    parser.add_argument("--click", action="append", default=[], help="button text, in order")
    parser.add_argument("--width", type=int, default=1440)
    parser.add_argument("--height", type=int, default=1800)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds for all clicks")
    parser.add_argument("--optional-wait", type=float, default=8.0)
    parser.add_argument("--settle", type=float, default=4.0, help="seconds before the shot")
    return shoot(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
