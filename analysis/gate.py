"""The CI gate: one run against a baseline and thresholds → a result with an exit code.

`gate(run_path, baseline_path, thresholds_path=None)` never raises on a breach: it returns a
`GateResult` whose `exit_code` is 0 (every threshold passed), 3 (a threshold failed) or 1 (the
run did not complete, or measured none of the gated KPIs: nothing trustworthy to gate). A run
whose files are damaged or whose summary breaks the contract's types (a KPI value `"fast"`) is
refused with `SpecError` (exit 2) naming the file: it can never come out as a regression. Invalid input — a missing run,
an invalid baseline or thresholds file, a threshold naming a KPI no summary has, a baseline of
another scenario — raises `SpecError` (exit 2), as the CLI convention wants.

Reports for the CI page: `write_junit(result, path)` (one testcase per threshold plus one for the
run's status; failures as <failure>, warnings as <system-out>, skipped as <skipped>) and
`write_markdown(result, path)` (a table, user strings escaped).
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hpabench.analysis.baseline import BaselineFile, BaselineKpi, load_baseline
from hpabench.analysis.compare import load_summary
from hpabench.analysis.faults import harness_faults
from hpabench.analysis.runcheck import check_run_dir, summary_issues
from hpabench.analysis.thresholds import Check, Threshold, evaluate, load_thresholds
from hpabench.errors import EXIT_OK, EXIT_THRESHOLDS_FAILED, EXIT_TOOL_ERROR, SpecError, SpecIssue
from hpabench.rundir import SUMMARY

ICONS = {"pass": "✅", "fail": "❌", "warn": "⚠️", "skip": "⏭️"}


@dataclass(frozen=True)
class GateResult:
    """Everything the gate decided. `checks` are in threshold order; `status_ok` is False when the
    run was not `completed`; `exit_code` is 0, 1 or 3 (module docstring)."""

    run_id: str
    run_path: Path
    scenario: str
    variant: str
    run_status: str
    baseline_path: Path
    baseline_runs: int
    thresholds_source: str
    checks: tuple[Check, ...]
    flags: tuple[str, ...]
    exit_code: int
    duration_s: float = 0.0
    warnings: tuple[str, ...] = field(default=())

    @property
    def status_ok(self) -> bool:
        return self.run_status == "completed"

    @property
    def passed(self) -> bool:
        return self.exit_code == EXIT_OK

    @property
    def failed_checks(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.outcome == "fail")

    def describe(self) -> str:
        """A few lines for the terminal."""
        verdict = {EXIT_OK: "PASS", EXIT_THRESHOLDS_FAILED: "FAIL"}.get(self.exit_code, "ERROR")
        counts = {o: sum(1 for c in self.checks if c.outcome == o) for o in ("pass", "fail", "warn", "skip")}
        lines = [
            f"gate {verdict}: {self.run_id} ({self.scenario}/{self.variant}) against {self.baseline_path} "
            f"[{counts['pass']} passed, {counts['fail']} failed, {counts['warn']} warnings, {counts['skip']} skipped]"
        ]
        if not self.status_ok:
            lines.append(f"  run status is {self.run_status!r}: not gated as a regression")
        for check in self.checks:
            if check.outcome != "pass":
                lines.append(f"  {check.outcome.upper():4s} {check.threshold.name}: {check.message}")
        lines += [f"  note: {w}" for w in self.warnings]
        return "\n".join(lines)


def _lookup(summary: dict[str, Any], threshold: Threshold) -> tuple[bool, float | None, str]:
    """(known, value, unit) of the threshold's KPI in a summary (phase-level if asked)."""
    kpis: Any = summary.get("kpis") or {}
    if threshold.phase is not None:
        phase = next((p for p in summary.get("phases") or [] if p.get("name") == threshold.phase), None)
        kpis = (phase or {}).get("kpis") or {}
    entry = kpis.get(threshold.kpi) if isinstance(kpis, dict) else None
    if not isinstance(entry, dict):
        return False, None, ""
    value = entry.get("value")
    number = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    return True, number, str(entry.get("unit") or "")


def _baseline_value(baseline: BaselineFile, threshold: Threshold) -> tuple[bool, float | None]:
    table: dict[str, BaselineKpi] | None = baseline.kpis
    if threshold.phase is not None:
        table = baseline.phases.get(threshold.phase)
    if table is None or threshold.kpi not in table:
        return False, None
    return True, table[threshold.kpi].median


def gate(run_path: Path, baseline_path: Path, thresholds_path: Path | None = None) -> GateResult:
    """Gate the run at `run_path` (see the module docstring)."""
    started = time.monotonic()
    run_path, baseline_path = Path(run_path), Path(baseline_path)
    damage = check_run_dir(run_path, summary_suffices=True).damage
    if damage:
        raise SpecError(list(damage), headline="cannot judge this run: its data is damaged")
    summary = load_summary(run_path)
    shape = summary_issues(summary, str(run_path / SUMMARY))
    if shape:
        raise SpecError(shape, headline="cannot judge this run: its summary breaks the contract")
    baseline = load_baseline(baseline_path)
    thresholds = load_thresholds(thresholds_path)
    source = str(thresholds_path) if thresholds_path is not None else "default thresholds"

    issues: list[SpecIssue] = []
    scenario = str(summary.get("scenario"))
    if baseline.scenario != scenario:
        issues.append(
            SpecIssue(str(baseline_path), "scenario", f"baseline is for {baseline.scenario!r}, the run is {scenario!r}")
        )
    checks: list[Check] = []
    warnings: list[str] = []
    for index, threshold in enumerate(thresholds):
        known, actual, unit = _lookup(summary, threshold)
        in_baseline, reference = _baseline_value(baseline, threshold)
        if not known and not in_baseline:
            if thresholds_path is None:  # a default threshold for a KPI older summaries lack
                checks.append(evaluate(threshold, None, None, unit))
                continue
            where = f"phase {threshold.phase!r} " if threshold.phase else ""
            issues.append(SpecIssue(source, f"thresholds.{index}", f"unknown KPI {where}{threshold.kpi!r}"))
            continue
        checks.append(evaluate(threshold, actual, reference, unit))
    if issues:
        raise SpecError(issues, headline="cannot gate this run")

    flags = tuple(str(f) for f in summary.get("flags") or ())
    suspect = [f for f in flags if f.startswith("generator_") or f == "cgroups_not_enforced"]
    if suspect:
        warnings.append(f"measurement flags: {', '.join(suspect)} — numbers may not reflect the system")
    run_status = str(summary.get("status"))
    measured = [c for c in checks if c.actual is not None]
    if run_status == "completed" and not measured:
        warnings.append("the run measured none of the gated KPIs: nothing to judge (not a regression)")
    broken = harness_faults(flags)
    if broken:
        warnings.append(f"harness faults: {', '.join(broken)} — the run measured a broken harness; not judged")
    if run_status != "completed" or not measured or broken:
        exit_code = EXIT_TOOL_ERROR
    elif any(c.outcome == "fail" for c in checks):
        exit_code = EXIT_THRESHOLDS_FAILED
    else:
        exit_code = EXIT_OK
    return GateResult(
        run_id=str(summary.get("run_id") or run_path.name),
        run_path=run_path,
        scenario=scenario,
        variant=str(summary.get("variant")),
        run_status=run_status,
        baseline_path=baseline_path,
        baseline_runs=len(baseline.runs),
        thresholds_source=source,
        checks=tuple(checks),
        flags=flags,
        exit_code=exit_code,
        duration_s=time.monotonic() - started,
        warnings=tuple(warnings),
    )


def junit_xml(result: GateResult) -> str:
    """The JUnit XML document (string) for `result`."""
    suite_name = f"hpabench gate {result.scenario}/{result.variant}"
    classname = f"hpabench.gate.{result.scenario}"
    failures = sum(1 for c in result.checks if c.outcome == "fail")
    skipped = sum(1 for c in result.checks if c.outcome == "skip")
    errors = 0 if result.status_ok else 1
    suites = ET.Element("testsuites", name="hpabench")
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=suite_name,
        tests=str(len(result.checks) + 1),
        failures=str(failures),
        errors=str(errors),
        skipped=str(skipped),
        time=f"{result.duration_s:.3f}",
    )
    properties = ET.SubElement(suite, "properties")
    for key, value in (
        ("run_id", result.run_id),
        ("run_path", str(result.run_path)),
        ("baseline", str(result.baseline_path)),
        ("thresholds", result.thresholds_source),
        ("flags", ",".join(result.flags)),
        ("exit_code", str(result.exit_code)),
    ):
        ET.SubElement(properties, "property", name=key, value=value)
    status_case = ET.SubElement(suite, "testcase", classname=classname, name="run completed", time="0")
    if not result.status_ok:
        ET.SubElement(status_case, "error", message=f"run status is {result.run_status}", type="RunNotCompleted")
    for check in result.checks:
        case = ET.SubElement(suite, "testcase", classname=classname, name=check.threshold.name, time="0")
        if check.outcome == "fail":
            failure = ET.SubElement(case, "failure", message=check.message, type="ThresholdFailed")
            failure.text = _detail(check)
        elif check.outcome == "skip":
            ET.SubElement(case, "skipped", message=check.message)
        else:
            out = ET.SubElement(case, "system-out")
            out.text = ("WARNING: " if check.outcome == "warn" else "") + _detail(check)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _detail(check: Check) -> str:
    parts = [check.message]
    if check.threshold.description:
        parts.append(check.threshold.description)
    parts.append(f"actual={check.actual} baseline_median={check.baseline} limit={check.limit} unit={check.unit or '-'}")
    return "\n".join(parts)


def write_junit(result: GateResult, path: Path) -> Path:
    """Write `junit_xml(result)` to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(junit_xml(result), encoding="utf-8")
    return path


def _md(text: str) -> str:
    """Escape text for a Markdown table cell (pipes, HTML, newlines, emphasis/backticks)."""
    for char, replacement in (
        ("&", "&amp;"),
        ("<", "&lt;"),
        (">", "&gt;"),
        ("|", "\\|"),
        ("`", "\\`"),
        ("*", "\\*"),
        ("_", "\\_"),
    ):
        text = text.replace(char, replacement)
    return " ".join(text.split())


def _num(value: float | None, unit: str) -> str:
    return "–" if value is None else _md(f"{value:.4g} {unit}".strip())


def markdown(result: GateResult) -> str:
    """The Markdown summary for a CI page."""
    verdict = {EXIT_OK: "✅ PASS", EXIT_THRESHOLDS_FAILED: "❌ FAIL"}.get(result.exit_code, "⛔ ERROR")
    lines = [
        f"## hpabench gate: {verdict}",
        "",
        f"Run **{_md(result.run_id)}** ({_md(result.scenario)}/{_md(result.variant)}, status "
        f"{_md(result.run_status)}) against baseline `{_md(str(result.baseline_path))}` "
        f"({result.baseline_runs} run(s)); thresholds: {_md(result.thresholds_source)}.",
        "",
    ]
    if not result.status_ok:
        lines += [f"⛔ The run is **{_md(result.run_status)}**: nothing trustworthy to gate (exit 1).", ""]
    lines += [f"⚠️ {_md(w)}" for w in result.warnings]
    if result.warnings:
        lines.append("")
    lines += ["| | threshold | actual | baseline (median) | limit | note |", "|---|---|---|---|---|---|"]
    for check in result.checks:
        lines.append(
            f"| {ICONS[check.outcome]} | {_md(check.threshold.name)} | {_num(check.actual, check.unit)} | "
            f"{_num(check.baseline, check.unit)} | {_num(check.limit, check.unit)} | {_md(check.message)} |"
        )
    return "\n".join(lines) + "\n"


def write_markdown(result: GateResult, path: Path) -> Path:
    """Write `markdown(result)` to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(markdown(result), encoding="utf-8")
    return path
