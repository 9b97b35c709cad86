"""The study report (`study.html`): one page comparing every variant of a study.

Contract: `render_study_report(header, trials)` → a self-contained HTML page (plain HTML tables
and an inline SVG, every user string escaped): per scenario a ranked table on the study's
primary KPI with bootstrap intervals, significance marks (Holm-adjusted Welch tests) and the
minimum detectable difference per comparison; the same for the guard KPIs (error rate, time in
SLO violation) and the cost KPI; a Pareto view of SLO violation and p95 against cost; a
plain-words recommendation with caveats; and the runs in the order they ran, with their HPA
sync phase (planned and measured), connection counters and failed-trial reasons.
`write_study_report(study_dir)` reads study.json + trials.jsonl and writes study.html.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hpabench.analysis.report.htmlkit import banner, esc, footer, format_value, page, section, table
from hpabench.analysis.study_stats import Ranked, Trial, pareto, rank, recommend

KPI_INFO = {  # name → (label, unit, better)
    "p95_ms": ("client p95 latency", "ms", "lower"),
    "error_rate": ("error rate", "ratio", "lower"),
    "slo_violation_pct": ("time in SLO violation", "%", "lower"),
    "replica_seconds": ("web pod-seconds (cost)", "pod·s", "lower"),
    "cpu_request_core_seconds": ("CPU requested × time (cost)", "core·s", "lower"),
    # Per-pod traffic share: long-lived (keep-alive) connections leave new pods without traffic.
    "fairness_jain": ("traffic fairness across pods (Jain, 1 = even)", "ratio", "higher"),
}
INFO_KPIS = ("fairness_jain",)
GUARD_KPIS = ("error_rate", "slo_violation_pct")
CONNECTION_SERIES = "haproxy_client_connections_rps"


def trials_from_records(records: Sequence[dict[str, Any]]) -> list[Trial]:
    return [
        Trial(
            scenario=r["scenario"],
            variant=r["variant"],
            repetition=int(r["repetition"]),
            kpis={k: (float(v) if isinstance(v, (int, float)) else None) for k, v in (r.get("kpis") or {}).items()},
            failed=bool(r.get("failed")),
            reasons=tuple(r.get("reasons") or ()),
            run_id=Path(str(r.get("run_path", ""))).name,
        )
        for r in records
    ]


def _info(kpi: str) -> tuple[str, str, str]:
    return KPI_INFO.get(kpi, (kpi, "", "lower"))


def _interval(low: float | None, high: float | None, unit: str) -> str:
    if low is None or high is None:
        return "–"
    return f"[{format_value(low, unit)}, {format_value(high, unit)}]"


def _signed(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    return ("+" if value > 0 else "") + format_value(value, unit)


def _ranked_table(rows: Sequence[Ranked], unit: str, baseline: str) -> str:
    body = []
    for r in rows:
        mark = r.mark()
        cls = "ok" if r.significant and r.improved else "bad" if r.significant else ""
        mark_html = f'<span class="badge {cls}">{esc(mark)}</span>' if mark and cls else esc(mark)
        body.append(
            [
                str(r.rank),
                esc(r.variant) + (" (baseline)" if r.variant == baseline else ""),
                f"{r.n}" + (f' <span class="badge bad">{r.n_failed} failed</span>' if r.n_failed else ""),
                format_value(r.mean, unit),
                _interval(r.ci_low, r.ci_high, unit),
                _signed(r.diff, unit),
                _interval(r.diff_low, r.diff_high, unit),
                "–" if r.p_adjusted is None else f"{r.p_adjusted:.3f}",
                mark_html,
                format_value(r.mdd, unit),
            ]
        )
    header = ["rank", "variant", "runs", "mean", "95% CI of mean", "Δ vs baseline", "95% CI of Δ",
              "p (Holm)", "sig.", "min. detectable Δ"]  # fmt: skip
    return table(header, body, "kpi")


def _scatter(points: dict[str, tuple[float | None, float | None]], front: set[str], x_label: str, y_label: str) -> str:
    """A small inline SVG scatter of (cost, badness); the Pareto front drawn filled."""
    known = {k: v for k, v in points.items() if v[0] is not None and v[1] is not None}
    if not known:
        return "<p>no data</p>"
    width, height, pad = 520, 260, 50
    xs = [float(v[0]) for v in known.values()]  # type: ignore[arg-type]
    ys = [float(v[1]) for v in known.values()]  # type: ignore[arg-type]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    y0, y1 = min(0.0, min(ys)), max(ys) if max(ys) > min(0.0, min(ys)) else 1.0
    parts = [f'<svg width="{width}" height="{height}" role="img" aria-label="{esc(y_label)} against {esc(x_label)}">']
    parts.append(f'<line x1="{pad}" y1="{height - pad}" x2="{width - 10}" y2="{height - pad}" stroke="#888"/>')
    parts.append(f'<line x1="{pad}" y1="10" x2="{pad}" y2="{height - pad}" stroke="#888"/>')
    parts.append(f'<text x="{width / 2}" y="{height - 12}" text-anchor="middle">{esc(x_label)}</text>')
    parts.append(
        f'<text x="12" y="{height / 2}" transform="rotate(-90 12 {height / 2})" '
        f'text-anchor="middle">{esc(y_label)}</text>'
    )
    for name, (x, y) in sorted(known.items()):
        px = pad + 10 + (float(x) - x0) / (x1 - x0) * (width - pad - 150)  # type: ignore[arg-type]  # room for the label
        py = height - pad - (float(y) - y0) / (y1 - y0) * (height - pad - 20)  # type: ignore[arg-type]
        fill = "#2a7" if name in front else "none"
        parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="5" fill="{fill}" stroke="#2a7"/>')
        parts.append(f'<text x="{px + 7:.1f}" y="{py - 6:.1f}" font-size="11">{esc(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _pareto_section(ranked: dict[str, list[Ranked]], cost_kpi: str) -> str:
    cost = {r.variant: r.mean for r in ranked.get(cost_kpi, [])}
    html = []
    rows = []
    for badness in ("slo_violation_pct", "p95_ms"):
        points = {r.variant: (cost.get(r.variant), r.mean) for r in ranked.get(badness, [])}
        front = pareto(points)
        html.append(_scatter(points, front, _info(cost_kpi)[0], _info(badness)[0]))
        for name, (c, b) in sorted(points.items()):
            rows.append([esc(_info(badness)[0]), esc(name), format_value(c, _info(cost_kpi)[1]),
                         format_value(b, _info(badness)[1]), "yes" if name in front else "no"])  # fmt: skip
    return "".join(html) + table(["trade-off", "variant", "cost", "value", "on the Pareto front"], rows)


def _connections(run_path: Path) -> float | None:
    """Mean new client connections per second at the balancer during the run (None if unknown)."""
    import pandas as pd

    file = run_path / "data" / "prom" / f"{CONNECTION_SERIES}.parquet"
    if not file.is_file():
        return None
    values = pd.read_parquet(file, columns=["value"])["value"]
    return float(values.mean()) if len(values) else None


def _runs_table(records: Sequence[dict[str, Any]]) -> str:
    rows = []
    for r in sorted(records, key=lambda r: r.get("index", 0)):
        run_path = Path(str(r.get("run_path", "")))
        kpis = r.get("kpis") or {}
        planned = r.get("sync_phase")
        period = r.get("sync_period_s")
        planned_s = planned * period if isinstance(planned, (int, float)) and isinstance(period, (int, float)) else None
        link = f'<a href="runs/{esc(run_path.name)}/report.html">{esc(run_path.name)}</a>'
        rows.append(
            [
                str(int(r.get("index", 0)) + 1),
                esc(r["scenario"]),
                esc(r["variant"]),
                str(r["repetition"]),
                link,
                esc(r.get("status", "")),
                format_value(kpis.get("p95_ms"), "ms"),
                format_value(kpis.get("replica_seconds"), "pod·s"),
                format_value(planned_s, "s"),
                format_value(r.get("sync_phase_measured_s"), "s"),
                format_value(_connections(run_path), "conn/s"),
                esc(", ".join(r.get("overrides") or [])) or "–",
                esc("; ".join(r.get("reasons") or [])) or "–",
            ]
        )
    header = ["#", "scenario", "variant", "rep", "run", "status", "p95", "cost", "HPA phase planned",
              "HPA phase measured", "new client conns", "settings (--set)", "failed-trial reasons"]  # fmt: skip
    return table(header, rows)


def render_study_report(header: dict[str, Any], records: Sequence[dict[str, Any]]) -> str:
    spec = header["spec"]
    baseline, primary, cost_kpi = spec["baseline"], spec["primary_kpi"], spec["cost_kpi"]
    trials = trials_from_records(records)
    reps = spec["repetitions"]
    title = f"Study {spec['name']}"
    body = [f"<h1>{esc(title)}</h1>"]
    if spec.get("description"):
        body.append(f"<p>{esc(spec['description'])}</p>")
    search = header.get("mode") == "search"
    total = len(header.get("plan", [])) if not search else len(records)
    if search:
        body.append(
            "<p>A search (optuna ask/tell within the spec's ranges): each sNNN is one proposal, "
            "measured once; the baseline ran between proposals.</p>"
        )
    body.append(
        f"<p>{len(records)} of {total} runs done · {len(spec['scenarios'])} scenario(s) × "
        f"{len(header.get('variants', {}))} variants × {reps} repetitions · time scale {header.get('time_scale')} · "
        f"seed {header.get('seed')} (run order and HPA sync phases) · sync phase {esc(spec['sync_phase']['mode'])}"
        f"{', held equal across variants' if spec['sync_phase']['hold_across_variants'] else ''}</p>"
    )
    if len(records) < total:
        body.append(banner("warn", "Incomplete study", [f"{total - len(records)} planned runs have not run yet."]))
    modes = {
        name: ((v.get("hpa") or {}).get("scale_point") or "raw")
        for name, v in (header.get("variants") or {}).items()
        # only variants that change the CPU request move the scale point (a limit does not)
        if (((v.get("web") or {}).get("resources") or {}).get("requests") or {}).get("cpu")
    }
    for scenario in spec["scenarios"]:
        ranked = {
            kpi: rank(trials, scenario, kpi, baseline, better=_info(kpi)[2], seed=spec.get("seed", 0))
            for kpi in dict.fromkeys([primary, *GUARD_KPIS, cost_kpi, *INFO_KPIS])
        }
        label, unit, _ = _info(primary)
        guard = {r.variant: r for kpi in GUARD_KPIS for r in ranked.get(kpi, []) if r.significant and not r.improved}
        caveats = [
            f"time compressed {header.get('time_scale')}x on the local target (one machine): absolute numbers are "
            "not a cluster's; differences between variants are the result",
        ]
        if modes:
            caveats.append(
                "CPU-request variants use scale-point mode "
                + ", ".join(f"{k}: {v}" for k, v in sorted(modes.items()))
                + " (iso keeps request × target, the load at which the HPA scales; raw changes it)"
            )
        verdict, notes = recommend(
            ranked[primary], baseline, label, unit, guard=guard, repetitions=reps, extra_caveats=caveats
        )
        body.append(f"<h2>{esc(scenario)}</h2>")
        body.append(f'<div class="banner ok"><strong>Recommendation</strong><p>{esc(verdict)}</p></div>')
        body.append(banner("warn", "Caveats", notes))
        body.append(
            section(
                f"Ranking on {label}",
                _ranked_table(ranked[primary], unit, baseline),
                "sig.: Holm-adjusted Welch t-test vs the baseline (** p<0.01, * p<0.05, n.s. not significant); "
                "min. detectable Δ: the difference these repetitions would detect with 80% power.",
            )
        )
        for kpi in dict.fromkeys([*GUARD_KPIS, cost_kpi, *INFO_KPIS]):
            if kpi != primary:
                k_label, k_unit, _ = _info(kpi)
                body.append(section(k_label, _ranked_table(ranked[kpi], k_unit, baseline)))
        body.append(section("Pareto view: SLO violation and p95 against cost", _pareto_section(ranked, cost_kpi),
                            "Filled points are not beaten on both cost and quality by another variant."))  # fmt: skip
    body.append(section("Runs in the order they ran", _runs_table(records)))
    body.append(footer(f"hpabench study {spec['name']}"))
    return page(title, "".join(body))


def write_study_report(study_dir: Path) -> Path:
    """Read a study directory (study.json + trials.jsonl) and write study.html; returns its path."""
    from hpabench.study.state import REPORT_FILE, read_header, read_records

    header = read_header(study_dir)
    records = list(read_records(study_dir).values())
    out = study_dir / REPORT_FILE
    tmp = out.with_suffix(".tmp")
    tmp.write_text(render_study_report(header, records), encoding="utf-8")
    tmp.replace(out)
    return out


def summary_text(study_dir: Path) -> str:
    """A few lines for a terminal or a README: the ranking and verdict of each scenario."""
    from hpabench.study.state import read_header, read_records

    header = read_header(study_dir)
    spec = header["spec"]
    trials = trials_from_records(list(read_records(study_dir).values()))
    lines = []
    for scenario in spec["scenarios"]:
        rows = rank(trials, scenario, spec["primary_kpi"], spec["baseline"], seed=spec.get("seed", 0))
        unit = _info(spec["primary_kpi"])[1]
        for r in rows:
            lines.append(
                f"{scenario:<10} {r.rank:>2}. {r.variant:<24} {spec['primary_kpi']} {format_value(r.mean, unit):>10}  "
                f"Δ {_signed(r.diff, unit):>10} {r.mark():<4} MDD {format_value(r.mdd, unit)}"
                + (f"  ({r.n_failed} failed)" if r.n_failed else "")
            )
    return "\n".join(lines)
