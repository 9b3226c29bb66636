"""The HTML report: every figure with its threshold and verdict, charts and files linked
relatively, nothing fetched from the network."""

from html.parser import HTMLParser
from pathlib import Path

import pytest

from agent_platform.errors import EvidenceError
from agent_platform.evidence import layout as paths
from agent_platform.evidence.layout import EvidenceLayout
from agent_platform.evidence.report_html import REPORT_PATH, publish_report, read_gate
from tests.support.report_tree import RUN, write_report_tree


class Page(HTMLParser):
    """The links, images and table rows of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.images: list[dict[str, str]] = []
        self.rows: list[list[str]] = []
        self.sources: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.sources += [v for k, v in values.items() if k in ("src", "href")]
        if tag == "a":
            self.links.append(values["href"])
        elif tag == "img":
            self.images.append(values)
        elif tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[EvidenceLayout, dict, Page]:
    root = tmp_path_factory.mktemp("report")
    write_report_tree(root)
    lay = EvidenceLayout(root)
    gate = read_gate(lay)
    path, _ = publish_report(lay, gate)
    assert path == lay.path(REPORT_PATH)
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return lay, gate, page


def test_every_figure_of_every_subsystem_is_a_row_with_its_threshold_and_verdict(
    published: tuple[EvidenceLayout, dict, Page],
) -> None:
    _, gate, page = published
    rows = {(r[0], r[1]): r for r in page.rows if len(r) == 4}
    for name, sub in gate["subsystems"].items():
        for figure, value in sub["figures"].items():
            row = rows[(figure, str(value))]
            if figure in sub["thresholds"]:
                assert row[2] == sub["thresholds"][figure]
                expected = "fail" if figure in sub["failed"] else "pass"
                assert row[3] == ("not measured" if value == "NOT_MEASURED" else expected), name
            else:
                assert row[3] == "no threshold"


def test_charts_and_csvs_are_relative_links_that_exist_and_nothing_is_remote(
    published: tuple[EvidenceLayout, dict, Page],
) -> None:
    lay, _, page = published
    here = lay.path(REPORT_PATH).parent
    assert len(page.images) == 7
    for image in page.images:
        assert (here / image["src"]).is_file(), image["src"]
        assert int(image["width"]) > 0 and image["alt"]
    for csv in (paths.BUDGET_REPORT, paths.DELIVERY_LOG, paths.ROUTER_FAILOVER):
        assert f"../{csv}" in page.links
        assert (here / f"../{csv}").resolve() == lay.path(csv).resolve()
    assert not [s for s in page.sources if "//" in s], "the report must load nothing remote"


def test_the_header_names_the_run_and_the_verdict(
    published: tuple[EvidenceLayout, dict, Page],
) -> None:
    _, gate, page = published
    header = {r[0]: r[1] for r in page.rows if len(r) == 2}
    assert header["run id"] == RUN
    assert gate["status"] == "FAIL"
    assert "gates/g1_architecture.json" in page.links


def test_a_chart_that_could_not_be_drawn_is_named_with_its_reason(tmp_path: Path) -> None:
    write_report_tree(tmp_path)
    lay = EvidenceLayout(tmp_path)
    lay.path(paths.ROUTER_FAILOVER).unlink()
    path, charts = publish_report(lay, read_gate(lay))
    text = path.read_text(encoding="utf-8")
    assert "failover_outcomes.png" not in text
    assert f"not drawn: {paths.ROUTER_FAILOVER} missing in this run" in text
    assert sum(c.drawn for c in charts) == 6


def test_a_missing_gate_json_is_a_clear_evidence_error(tmp_path: Path) -> None:
    with pytest.raises(EvidenceError, match="cannot read the gate JSON"):
        read_gate(EvidenceLayout(tmp_path))
