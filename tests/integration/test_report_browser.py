"""report.html renders in real headless Chromium with every chart loaded.

The page under test is the report as written, plus one inline probe script appended in a copy
beside it: after the load event the probe writes each image's decoded size into the DOM, which
Chromium dumps. An image that is missing or not a picture decodes to width 0, which the second
half of the test proves by deleting one chart.
"""

import json
import re
import struct
from pathlib import Path

from agent_platform.evidence.charts import CHARTS
from agent_platform.evidence.layout import EvidenceLayout
from agent_platform.evidence.report_html import REPORT_PATH, publish_report, read_gate
from tests.support.chromium import chromium, dump_dom
from tests.support.report_tree import write_report_tree

PROBE = """<script>
window.addEventListener("load", () => {
  const seen = [...document.images].map(i => [i.getAttribute("src"), i.naturalWidth, i.naturalHeight]);
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify(seen);
  document.body.appendChild(out);
});
</script>"""


def _probe(browser: str, report: Path, profile: Path) -> list[list]:
    page = report.with_name("report_probe.html")
    page.write_text(report.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"))
    found = re.search(r'<pre id="probe">(.*?)</pre>', dump_dom(browser, page, profile), re.S)
    assert found, "the probe did not run: the page did not finish loading"
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))


def _png_size(path: Path) -> tuple[int, int]:
    width, height = struct.unpack(">II", path.read_bytes()[16:24])
    return width, height


def test_report_renders_in_chromium_with_every_chart_loaded(tmp_path: Path) -> None:
    browser = chromium()
    write_report_tree(tmp_path)
    lay = EvidenceLayout(tmp_path)
    report, _ = publish_report(lay, read_gate(lay))
    seen = _probe(browser, report, tmp_path / "profile")
    assert sorted(s[0] for s in seen) == sorted(f"charts/{c.name}.png" for c in CHARTS)
    for src, width, height in seen:
        assert (width, height) == _png_size(lay.path(REPORT_PATH).parent / src), src

    lay.path("evidence/charts/budget_burn.png").unlink()
    broken = {s[0]: s[1] for s in _probe(browser, report, tmp_path / "profile")}
    assert broken["charts/budget_burn.png"] == 0
    assert broken["charts/delivery_attempts.png"] > 0
