"""`--helm`: the reference architecture deployed as a Helm release of `deploy/helm/hpabench-reference/`.

With `K8sSettings.helm` set, the k8s target installs the chart into the run's namespace instead of
server-side applying the rendered objects; everything else (the namespace, its labels, the watch,
readiness, port-forwards, observation, teardown) is the same. This module holds:

* the exact command lines (`install_command`, `upgrade_command`, `uninstall_command`,
  `template_command`: pure functions of their arguments, unit-tested as such);
* `find_helm`: the helm binary on PATH, else the one `make tools` puts in `.tools/bin`
  (none: `MISSING_HELM`, which names the fix);
* `chart_values`: the run's variant as chart values (`deploy/helm_values.dump_helm_values`, resolved
  the same way `hpabench render --variant V --set …` resolves it), with the image the rendered objects
  run and, without autoscaling, `hpa.enabled: false`;
* `chart_differences`: `helm template` of those values compared object by object with the rendered
  objects — the pre-flight refuses a chart that would deploy anything else than `hpabench render`;
* `HelmRelease`: runs the commands (`subprocess.run`, bounded by a timeout; output kept for the
  error message) and writes every values file it hands to helm into `<run>/helm/`.

Install uses `--wait=hookOnly` (helm 4's name for the deprecated `--wait=false`: the target waits
for readiness itself, as it does after an apply). A rollout event's new image tag is a values change
(`upgrade_command` with a new values file) run with `--server-side=false`: helm's client-side
three-way merge sends only what changed between the release's manifests, so the replica count the
HPA set is left alone (a server-side apply would conflict with the HPA's field ownership of
`spec.replicas`, or, forced, reset it).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from hpabench.errors import HpabenchError, SpecError, SpecIssue, TargetError

CHART = Path(__file__).resolve().parents[1] / "helm" / "hpabench-reference"  # shipped as package data
ROOT = Path(__file__).resolve().parents[2]  # a checkout: where `make tools` puts .tools/bin
TOOLS_HELM = ROOT / ".tools" / "bin" / "helm"
WAIT = "--wait=hookOnly"  # helm 4: hooks only, no readiness wait (what `--wait=false` was)
MISSING_HELM = (
    "--helm needs the helm binary (v4), found neither on PATH nor in .tools/bin. "
    "fix: `make tools` installs helm into .tools/bin"
)
OUTPUT_TAIL = 1500


def find_helm(explicit: str | None = None) -> str | None:
    """The helm to run: `explicit` if given and executable, else `helm` on PATH, else .tools/bin/helm."""
    if explicit:
        return explicit if shutil.which(explicit) else None
    on_path = shutil.which("helm")
    if on_path:
        return on_path
    return str(TOOLS_HELM) if TOOLS_HELM.is_file() and shutil.which(str(TOOLS_HELM)) else None


def chart_version(chart: Path = CHART) -> str:
    """`version:` of the chart's Chart.yaml."""
    meta = yaml.safe_load((chart / "Chart.yaml").read_text(encoding="utf-8")) or {}
    return str(meta.get("version", "?"))


def connection_args(kubeconfig: Path | None, context: str | None) -> list[str]:
    """How helm reaches the same cluster as the target (its defaults otherwise: $KUBECONFIG, in-cluster)."""
    args = []
    if kubeconfig is not None:
        args += ["--kubeconfig", str(kubeconfig)]
    if context:
        args += ["--kube-context", context]
    return args


def install_command(
    helm: str, release: str, chart: Path, namespace: str, values: Path, connection: Sequence[str] = ()
) -> list[str]:
    """`helm upgrade --install` of the chart into the run's (existing) namespace, not waiting."""
    return [helm, "upgrade", "--install", release, str(chart), "-n", namespace, "-f", str(values), WAIT, *connection]


def upgrade_command(
    helm: str, release: str, chart: Path, namespace: str, values: Path, connection: Sequence[str] = ()
) -> list[str]:
    """`helm upgrade` of the existing release with new values (a rollout event), client-side merged."""
    return [
        helm,
        "upgrade",
        release,
        str(chart),
        "-n",
        namespace,
        "-f",
        str(values),
        WAIT,
        "--server-side=false",
        *connection,
    ]


def uninstall_command(helm: str, release: str, namespace: str, connection: Sequence[str] = ()) -> list[str]:
    return [helm, "uninstall", release, "-n", namespace, WAIT, *connection]


def template_command(helm: str, release: str, chart: Path, values: Path) -> list[str]:
    """`helm template`: what the chart renders for `values`, without a cluster."""
    return [helm, "template", release, str(chart), "-f", str(values)]


def app_image(objects: list[dict[str, Any]]) -> str | None:
    """The reference app's image in the rendered web Deployment (what the chart's `image` must be)."""
    from hpabench.deploy.rollout_change import is_app_image, web_template

    try:
        containers = (web_template(objects).get("spec") or {}).get("containers") or []
    except ValueError:
        return None
    return next((str(c["image"]) for c in containers if is_app_image(c.get("image"))), None)


def chart_values(
    variant_file: Path | None, overrides: Sequence[str], image: str | None, autoscale: bool = True
) -> dict[str, Any]:
    """The variant (resolved with its `--set` overrides) as chart values; SpecError when it cannot
    be expressed in the chart (RFC 6902 patches) or does not load."""
    from hpabench.deploy.helm_values import helm_values
    from hpabench.deploy.variant import resolve_variant

    values = helm_values(resolve_variant(variant_file, tuple(overrides)))
    if image is not None:
        values["image"] = image
    if not autoscale:
        values["hpa"] = {**(values.get("hpa") or {}), "enabled": False}
    return values


def dump_values(values: dict[str, Any], note: str) -> str:
    body = yaml.safe_dump(values, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1000)
    return f"# {note}\n{body}"


def run_helm(argv: list[str], timeout_s: float) -> str:
    """Run one helm command; its stdout. TargetError with helm's own message on failure."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise TargetError(f"`{' '.join(argv[1:3])}` did not finish within {timeout_s:g} s") from None
    except OSError as exc:
        raise TargetError(f"cannot run {argv[0]}: {exc}") from None
    if done.returncode != 0:
        message = (done.stderr or done.stdout).strip()[-OUTPUT_TAIL:]
        raise TargetError(f"`helm {' '.join(argv[1:3])}` failed (exit {done.returncode}): {message}")
    return done.stdout


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    return str(obj.get("kind")), str((obj.get("metadata") or {}).get("name"))


def chart_differences(chart_objects: list[dict[str, Any]], objects: list[dict[str, Any]]) -> list[str]:
    """Which objects the chart renders differently from `objects` (kind/name), pure."""
    chart = {_key(o): o for o in chart_objects}
    ours = {_key(o): o for o in objects}
    out = [f"{k}/{n}: only in the chart" for k, n in sorted(set(chart) - set(ours))]
    out += [f"{k}/{n}: not in the chart" for k, n in sorted(set(ours) - set(chart))]
    out += [f"{k}/{n}: differs" for k, n in sorted(set(chart) & set(ours)) if chart[(k, n)] != ours[(k, n)]]
    return out


class HelmRelease:
    """One run's release: `admit` before the run, then install → upgrade* → uninstall."""

    def __init__(
        self,
        helm: str,
        release: str,
        values: dict[str, Any],
        connection: Sequence[str] = (),
        chart: Path = CHART,
        timeout_s: float = 300.0,
    ) -> None:
        self.helm, self.release, self.values, self.chart = helm, release, dict(values), chart
        self.connection = list(connection)
        self.timeout_s = timeout_s
        self.namespace: str | None = None
        self.values_dir: Path | None = None
        self.commands: list[list[str]] = []
        self._upgrades = 0

    def _write(self, directory: Path, name: str, values: dict[str, Any], note: str) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / name
        path.write_text(dump_values(values, note), encoding="utf-8")
        return path

    def _run(self, argv: list[str]) -> str:
        self.commands.append(argv)
        return run_helm(argv, self.timeout_s)

    def differences(self, objects: list[dict[str, Any]], scratch: Path) -> list[str]:
        """`chart_differences` of `helm template` with this release's values and `objects`."""
        values = self._write(scratch, "values.yaml", self.values, "hpabench pre-flight: the run's chart values")
        out = run_helm(template_command(self.helm, self.release, self.chart, values), self.timeout_s)
        try:
            rendered = [doc for doc in yaml.safe_load_all(out) if isinstance(doc, dict)]
        except yaml.YAMLError as exc:
            raise TargetError(f"`helm template` printed something that is not YAML: {exc}") from None
        return chart_differences(rendered, objects)

    def install(self, namespace: str, values_dir: Path) -> None:
        self.namespace, self.values_dir = namespace, values_dir
        note = f"hpabench: chart values of release {self.release}"
        values = self._write(values_dir, "values.yaml", self.values, note)
        self._run(install_command(self.helm, self.release, self.chart, namespace, values, self.connection))

    def upgrade_image(self, image: str) -> None:
        """A new app image as a values change of the installed release."""
        if self.namespace is None or self.values_dir is None:
            raise TargetError("the helm release is not installed")
        self._upgrades += 1
        values = {**self.values, "image": image}
        path = self._write(self.values_dir, f"values-upgrade-{self._upgrades}.yaml", values, f"rollout to {image}")
        self._run(upgrade_command(self.helm, self.release, self.chart, self.namespace, path, self.connection))
        self.values = values

    def uninstall(self) -> None:
        if self.namespace is None:
            return
        namespace, self.namespace = self.namespace, None
        self._run(uninstall_command(self.helm, self.release, namespace, self.connection))


def helm_issues(
    helm: str | None,
    variant_file: Path | None,
    overrides: Sequence[str],
    objects: list[dict[str, Any]],
    autoscale: bool = True,
) -> tuple[list[SpecIssue], dict[str, Any] | None]:
    """Pre-flight of `--helm` (no cluster needed): the binary, and the variant as chart values."""
    if helm is None:
        return [SpecIssue("--helm", "helm", MISSING_HELM)], None
    try:
        return [], chart_values(variant_file, overrides, app_image(objects), autoscale)
    except SpecError as exc:
        return [SpecIssue(i.file or "--helm", i.path, i.message) for i in exc.issues], None
    except HpabenchError as exc:
        return [SpecIssue("--helm", "variant", str(exc))], None
