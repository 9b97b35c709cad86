"""Where report pages get plotly.js from: embedded by default, or one shared copy beside the
reports (`--plotlyjs shared` on `report` and `compare`); never a CDN."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hpabench.analysis.report import write_compare_report, write_run_report
from hpabench.analysis.report.plotlyjs import bundled_plotlyjs, script_tag, shared_file_name, write_shared_copy
from hpabench.cli import build_parser
from tests.support.synthetic_run import make_synthetic_run


def test_the_bundle_is_plotly_js_and_cannot_end_its_script_element() -> None:
    source = bundled_plotlyjs()
    assert len(source) > 1_000_000 and "</script" not in source.lower()
    assert script_tag("embed") == f"<script>{source}</script>"


def test_shared_mode_links_a_relative_copy_only() -> None:
    assert script_tag("shared", "../plotly-4.min.js") == '<script src="../plotly-4.min.js"></script>'
    for bad in ("", "https://cdn.plot.ly/plotly.min.js", "//cdn.example/p.js"):
        with pytest.raises(ValueError, match="relative path"):
            script_tag("shared", bad)
    with pytest.raises(ValueError, match="embed, shared"):
        script_tag("cdn")  # type: ignore[arg-type]
    assert re.fullmatch(r"plotly-\d+\.\d+\.\d+\.min\.js", shared_file_name())


def test_write_shared_copy_writes_once_and_repairs_a_bad_copy(tmp_path: Path) -> None:
    copy = write_shared_copy(tmp_path)
    assert copy.read_text(encoding="utf-8") == bundled_plotlyjs()
    first_mtime = copy.stat().st_mtime_ns
    assert write_shared_copy(tmp_path) == copy and copy.stat().st_mtime_ns == first_mtime  # unchanged
    copy.write_text("truncated")
    assert write_shared_copy(tmp_path).read_text(encoding="utf-8") == bundled_plotlyjs()
    assert not list(tmp_path.glob(".*.tmp"))


def test_shared_reports_link_one_copy_beside_them(tmp_path: Path) -> None:
    runs = [make_synthetic_run(tmp_path / "reports" / f"r{i}", duration_s=60, seed=i, run_id=f"r{i}") for i in range(2)]
    pages = [write_run_report(run, plotlyjs="shared") for run in runs]
    compare = write_compare_report(runs, tmp_path / "reports" / "compare.html", plotlyjs="shared")
    assert [p.name for p in (tmp_path / "reports").glob("plotly-*.min.js")] == [shared_file_name()]
    for page in pages:
        html = page.read_text()
        assert f'<script src="../{shared_file_name()}"></script>' in html and bundled_plotlyjs() not in html
        assert page.stat().st_size < 500_000
    assert f'<script src="{shared_file_name()}"></script>' in compare.read_text()
    embedded = write_run_report(runs[0])
    assert bundled_plotlyjs() in embedded.read_text()  # the default embeds


def test_report_and_compare_take_the_option() -> None:
    parser = build_parser()
    assert parser.parse_args(["report", "r"]).plotlyjs == "embed"
    assert parser.parse_args(["report", "r", "--plotlyjs", "shared"]).plotlyjs == "shared"
    assert parser.parse_args(["compare", "a", "b", "--plotlyjs", "shared"]).plotlyjs == "shared"
    with pytest.raises(SystemExit):
        parser.parse_args(["report", "r", "--plotlyjs", "cdn"])
