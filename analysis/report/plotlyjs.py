"""Where a report page gets plotly.js from — never a CDN, so every page works offline.

* `embed` (the default): the python `plotly` package's bundled `plotly.min.js` is inlined into
  the page (~4.8 MB): one file that opens anywhere, e.g. as a CI artefact.
* `shared`: one copy, `plotly-<version>.min.js`, is written beside the reports (the reports
  folder: the parent of a run directory, the folder of a comparison page) and every page links
  it by a relative path — for folders with many runs. Moving a page without the copy breaks
  its charts, not its tables (the page then says the script is missing).

Contract: `script_tag(mode, src)` is pure; `write_shared_copy(folder)` writes the file
atomically only when it is missing or differs, and returns its path.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Literal

PlotlyJsMode = Literal["embed", "shared"]
MODES: tuple[PlotlyJsMode, ...] = ("embed", "shared")


@functools.cache
def bundled_plotlyjs() -> str:
    """The minified plotly.js bundled with the python `plotly` package (offline, no CDN)."""
    from plotly.offline import get_plotlyjs

    source = str(get_plotlyjs())
    # An inline <script> ends at the first "</script": the bundle must not contain one.
    if "</script" in source.lower():
        source = source.replace("</script", "<\\/script").replace("</SCRIPT", "<\\/SCRIPT")
    return source


def plotlyjs_version() -> str:
    from plotly.offline import get_plotlyjs_version

    return str(get_plotlyjs_version())


def shared_file_name() -> str:
    """`plotly-<plotly.js version>.min.js`: pages of different versions never share a copy."""
    return f"plotly-{plotlyjs_version()}.min.js"


def check_mode(mode: str) -> PlotlyJsMode:
    """`mode` if it is one of MODES, else ValueError naming the choices."""
    if mode not in MODES:
        raise ValueError(f"plotlyjs must be one of {', '.join(MODES)}, not {mode!r}")
    return mode


def script_tag(mode: PlotlyJsMode, src: str = "") -> str:
    """The <script> element loading plotly.js: inline for `embed`, `src` (relative) for `shared`."""
    if check_mode(mode) == "embed":
        return f"<script>{bundled_plotlyjs()}</script>"
    if not src or "://" in src or src.startswith("//"):
        raise ValueError(f"a shared plotly.js needs a relative path, not {src!r}")
    from hpabench.analysis.report.htmlkit import esc

    return f'<script src="{esc(src)}"></script>'


def write_shared_copy(folder: Path) -> Path:
    """Write `folder/plotly-<version>.min.js` unless an identical copy is there; return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / shared_file_name()
    source = bundled_plotlyjs().encode("utf-8")
    if target.exists() and target.stat().st_size == len(source) and target.read_bytes() == source:
        return target
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_bytes(source)
    os.replace(tmp, target)
    return target


__all__ = ["MODES", "PlotlyJsMode", "bundled_plotlyjs", "check_mode", "script_tag", "shared_file_name"]
