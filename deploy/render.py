"""Rendering: base manifests + variant → the final Kubernetes objects. Pure and deterministic.

Contract:
- `render(variant, image=, manifests_dir=)` reads `manifests_dir/*.yaml` (sorted by file name,
  documents in order) plus the enabled `optional/` extras, applies the variant's knobs, then its
  patches, and annotates every object with `hpabench.io/variant: <name>`. The result is plain
  data (dicts/lists/scalars, nothing shared, so no YAML aliases) in a stable order; the same
  inputs always give the same output.
- `image` replaces the app image (every container whose image is `…/refapp:<tag>`).
- Problems raise `SpecError`: a malformed base manifest names its file and document; a knob or
  patch problem names the variant file and the field path (`patches.1.path`, `hpa.min_replicas`).
- `dump_yaml(objects)` is multi-document YAML for `kubectl apply -f -`: keys in the objects' own
  order, no aliases. `render_objects(variant_path, image)` is the CLI's entry point.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import jsonpatch
import jsonpointer
import yaml

from hpabench.contract import RENDERED_OBJECTS, write_text_atomic
from hpabench.deploy.render_tuning import apply_tuning
from hpabench.deploy.strategy import StrategyKnobs, apply_strategy
from hpabench.deploy.variant import Variant, cpu_millicores, default_variant, hpa_api_issues, resolve_variant
from hpabench.errors import SpecError, SpecIssue
from hpabench.inputfile import read_input_text
from hpabench.yamlstrict import parse_yaml_all

MANIFESTS_DIR = Path(__file__).resolve().parent / "manifests"
OPTIONAL_FILES = {"networkpolicy": "networkpolicy.yaml", "pdb": "pdb.yaml"}

VARIANT_ANNOTATION = "hpabench.io/variant"
LB_ALGORITHM_ANNOTATION = "hpabench.io/lb-algorithm"
MAX_CONN_ANNOTATION = "hpabench.io/max-conn-per-pod"

# The objects the knobs act on (docs/contracts.md: other stages rely on these names).
WEB_DEPLOYMENT = ("Deployment", "web")
WEB_CONTAINER = "web"
WEB_SERVICE = ("Service", "web")
WEB_HPA = ("HorizontalPodAutoscaler", "web")
WEB_CONFIG = ("ConfigMap", "web-config")
DB_STATEFULSET = ("StatefulSet", "postgres")
APP_IMAGE_REPO = "refapp"
POSTGRES_DEFAULT_MAX_CONNECTIONS = 100


def plain(data: Any) -> Any:
    """A fresh copy made of new dicts and lists only: YAML anchors parse into shared objects,
    which would dump as aliases and alias mutations; copying node by node unshares them."""
    if isinstance(data, dict):
        return {key: plain(value) for key, value in data.items()}
    if isinstance(data, list):
        return [plain(value) for value in data]
    return data


def load_manifests(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """Every document of `paths` (in the given order), checked to be an identifiable object."""
    objects: list[dict[str, Any]] = []
    for path in paths:
        file = str(path)
        documents = parse_yaml_all(read_input_text(path, what="manifest file"), file)
        issues = []
        for index, doc in enumerate(documents):
            if doc is None:
                continue  # an empty document (e.g. a trailing ---)
            where = f"document {index + 1}"
            if not isinstance(doc, dict):
                issues.append(SpecIssue(file, where, "must be a Kubernetes object (a mapping)"))
                continue
            meta = doc.get("metadata")
            missing = [key for key in ("apiVersion", "kind") if not isinstance(doc.get(key), str)]
            if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
                missing.append("metadata.name")
            if missing:
                issues.append(SpecIssue(file, where, f"missing {', '.join(missing)}"))
                continue
            objects.append(plain(doc))
        if issues:
            raise SpecError(issues)
    return objects


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any] | None:
    """The object of `kind` named `name`, or None."""
    for obj in objects:
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            return obj
    return None


class _Renderer:
    """Applies one variant's knobs to `objects` in place, collecting issues instead of stopping."""

    def __init__(self, objects: list[dict[str, Any]], variant: Variant, source: str) -> None:
        self.objects = objects
        self.variant = variant
        self.source = source
        self.issues: list[SpecIssue] = []

    def issue(self, path: str, message: str) -> None:
        self.issues.append(SpecIssue(self.source, path, message))

    def need(self, ref: tuple[str, str], knob: str) -> dict[str, Any] | None:
        obj = find(self.objects, *ref)
        if obj is None:
            self.issue(knob, f"{ref[0]} {ref[1]!r} is not in the base manifests")
        return obj

    def web_container(self, knob: str) -> dict[str, Any] | None:
        deployment = self.need(WEB_DEPLOYMENT, knob)
        if deployment is None:
            return None
        for container in deployment["spec"]["template"]["spec"].get("containers", []):
            if isinstance(container, dict) and container.get("name") == WEB_CONTAINER:
                found: dict[str, Any] = container
                return found
        self.issue(knob, f"Deployment web has no container named {WEB_CONTAINER!r}")
        return None

    def config(self, knob: str, key: str, value: int) -> None:
        configmap = self.need(WEB_CONFIG, knob)
        if configmap is not None:
            configmap.setdefault("data", {})[key] = str(value)

    def apply_web(self) -> None:
        web = self.variant.web
        if web.resources is not None:
            container = self.web_container("web.resources")
            if container is not None:
                resources = container.setdefault("resources", {})
                for section in ("requests", "limits"):
                    chosen = getattr(web.resources, section)
                    if chosen is None:
                        continue
                    values = chosen.model_dump(exclude_none=True)
                    resources.setdefault(section, {}).update(values)
                self.check_requests_within_limits(resources)
        if web.replicas is not None:
            deployment = self.need(WEB_DEPLOYMENT, "web.replicas")
            if deployment is not None:
                deployment["spec"]["replicas"] = web.replicas
        if web.concurrency is not None:
            container = self.web_container("web.concurrency")
            if container is not None:
                container["args"] = _with_option(container.get("args") or [], "--limit-concurrency", web.concurrency)
        pool_max = web.db_pool_max if web.db_pool_max is not None else web.concurrency
        if pool_max is not None:
            self.config(
                "web.db_pool_max" if web.db_pool_max is not None else "web.concurrency", "DB_POOL_MAX", pool_max
            )
        if web.cache_ttl_s is not None:
            self.config("web.cache_ttl_s", "CACHE_TTL_S", web.cache_ttl_s)
        if web.work_cost is not None:
            self.config("web.work_cost", "WORK_DEFAULT_COST", web.work_cost)
        if web.rollout is not None:
            container = self.web_container("web.rollout")
            deployment = self.need(WEB_DEPLOYMENT, "web.rollout")
            if container is not None and deployment is not None:
                apply_strategy(deployment, container, StrategyKnobs(**web.rollout.model_dump()))

    def check_requests_within_limits(self, resources: dict[str, Any]) -> None:
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        if (
            "cpu" in requests
            and "cpu" in limits
            and cpu_millicores(str(requests["cpu"])) > cpu_millicores(str(limits["cpu"]))
        ):
            self.issue("web.resources", f"cpu request {requests['cpu']} would exceed the cpu limit {limits['cpu']}")

    def apply_hpa(self) -> None:
        knobs = self.variant.hpa
        if not knobs.enabled:
            hpa = self.need(WEB_HPA, "hpa.enabled")
            if hpa is not None:
                self.objects[:] = [obj for obj in self.objects if obj is not hpa]
            return
        touched = knobs.model_fields_set - {"enabled"}
        if not touched:
            return
        hpa = self.need(WEB_HPA, "hpa")
        if hpa is None:
            return
        spec = hpa["spec"]
        if knobs.min_replicas is not None:
            spec["minReplicas"] = knobs.min_replicas
        if knobs.max_replicas is not None:
            spec["maxReplicas"] = knobs.max_replicas
        low, high = spec.get("minReplicas", 1), spec.get("maxReplicas")
        if isinstance(high, int) and isinstance(low, int) and low > high:
            knob = "hpa.min_replicas" if knobs.min_replicas is not None else "hpa.max_replicas"
            self.issue(knob, f"minReplicas {low} would exceed maxReplicas {high}")
        if knobs.target_cpu_utilization is not None:
            self.set_cpu_target(spec, knobs.target_cpu_utilization)
        if knobs.metrics is not None:
            spec.setdefault("metrics", []).extend(knobs.metrics_manifest())
        behavior = knobs.behavior_manifest()
        if behavior is not None:
            spec["behavior"] = behavior

    def set_cpu_target(self, spec: dict[str, Any], percent: int) -> None:
        metrics = spec.setdefault("metrics", [])
        for metric in metrics:
            resource = metric.get("resource") or {}
            if metric.get("type") == "Resource" and resource.get("name") == "cpu":
                resource["target"] = {"type": "Utilization", "averageUtilization": percent}
                return
        metrics.insert(
            0,
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": percent}},
            },
        )

    def check_cpu_request(self) -> None:
        """A CPU utilization target is a percentage of the request: without one, no HPA can act."""
        hpa = find(self.objects, *WEB_HPA)
        touched = {"web.resources", "hpa.target_cpu_utilization"} & self._set_knobs()
        if hpa is None or not touched:
            return
        uses_utilization = any(
            m.get("type") == "Resource"
            and (m.get("resource") or {}).get("name") == "cpu"
            and ((m.get("resource") or {}).get("target") or {}).get("type") == "Utilization"
            for m in hpa["spec"].get("metrics") or []
        )
        deployment = find(self.objects, *WEB_DEPLOYMENT)
        if not uses_utilization or deployment is None:
            return
        for container in deployment["spec"]["template"]["spec"].get("containers", []):
            if "cpu" not in ((container.get("resources") or {}).get("requests") or {}):
                self.issue(
                    sorted(touched)[0],
                    f"the HPA targets CPU utilization but container {container.get('name')!r} has no cpu request",
                )

    def check_db_connections(self) -> None:
        """max web pods × DB_POOL_MAX must fit PostgreSQL's max_connections, or scale-up fails."""
        web = self.variant.web
        knob = next(
            (
                name
                for name, set_ in (
                    ("web.db_pool_max", web.db_pool_max),
                    ("web.concurrency", web.concurrency),
                    ("hpa.max_replicas", self.variant.hpa.max_replicas),
                )
                if set_ is not None
            ),
            None,
        )
        configmap, hpa = find(self.objects, *WEB_CONFIG), find(self.objects, *WEB_HPA)
        if knob is None or configmap is None:
            return
        deployment = find(self.objects, *WEB_DEPLOYMENT)
        pods = hpa["spec"].get("maxReplicas") if hpa is not None else None
        if not isinstance(pods, int):
            pods = (deployment or {}).get("spec", {}).get("replicas", 1)
        try:
            per_pod = int((configmap.get("data") or {}).get("DB_POOL_MAX", "10"))
        except ValueError:
            return
        limit = postgres_max_connections(find(self.objects, *DB_STATEFULSET))
        # A few connections stay free for migrate init containers and psql.
        if pods * per_pod > limit - 3:
            self.issue(
                knob,
                f"{pods} web pods x DB_POOL_MAX {per_pod} = {pods * per_pod} connections exceed PostgreSQL's "
                f"max_connections {limit} (minus 3 reserved); lower the pool or raise max_connections",
            )

    def apply_networking(self) -> None:
        net = self.variant.networking
        if not net.model_fields_set:
            return
        service = self.need(WEB_SERVICE, "networking")
        if service is None:
            return
        if net.session_affinity is not None:
            service["spec"]["sessionAffinity"] = net.session_affinity
        annotations = service["metadata"].setdefault("annotations", {})
        if net.lb_algorithm is not None:
            annotations[LB_ALGORITHM_ANNOTATION] = net.lb_algorithm
        if net.max_conn_per_pod is not None:
            annotations[MAX_CONN_ANNOTATION] = str(net.max_conn_per_pod)

    def apply_patches(self) -> None:
        for index, patch in enumerate(self.variant.patches):
            where = f"patches.{index}"
            position = next(
                (i for i, obj in enumerate(self.objects) if (obj["kind"], _name(obj)) == (patch.kind, patch.name)),
                None,
            )
            if position is None:
                self.issue(f"{where}.name", f"no {patch.kind} named {patch.name!r} in the rendered objects")
                continue
            target = self.objects[position]
            # Check the pointers first: jsonpatch's own messages quote the whole object.
            problem = None
            if patch.from_ is not None:
                problem = _pointer_problem(target, patch.from_, must_exist=True)
                if problem:
                    self.issue(f"{where}.from", problem)
                    continue
            problem = _pointer_problem(target, patch.path, must_exist=patch.op in ("remove", "replace", "test"))
            if problem:
                self.issue(f"{where}.path", problem)
                continue
            try:
                patched = jsonpatch.JsonPatch([patch.operation()]).apply(target)
            except jsonpatch.JsonPatchTestFailed:
                self.issue(f"{where}.value", f"test failed: the value at {patch.path} differs")
                continue
            except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
                self.issue(f"{where}.path", f"cannot {patch.op} {patch.path}: {str(exc)[:200]}")
                continue
            if not isinstance(patched, dict) or (patched.get("kind"), _name(patched)) != (patch.kind, patch.name):
                self.issue(f"{where}.path", "a patch must not change the object's kind or metadata.name")
                continue
            self.objects[position] = plain(patched)

    def _set_knobs(self) -> set[str]:
        names = set()
        if self.variant.web.resources is not None:
            names.add("web.resources")
        if self.variant.hpa.target_cpu_utilization is not None:
            names.add("hpa.target_cpu_utilization")
        return names


def _name(obj: dict[str, Any]) -> Any:
    meta = obj.get("metadata")
    return meta.get("name") if isinstance(meta, dict) else None


def _pointer_problem(doc: Any, pointer: str, must_exist: bool) -> str | None:
    """Why `pointer` cannot be used on `doc` (None if it can). With `must_exist` false only the
    parent has to exist (RFC 6902 `add`), and the last token may be `-` or an index up to len."""
    if pointer == "":
        return None if must_exist else "cannot add at the document root"
    tokens = [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]
    node = doc
    walked = ""
    for depth, token in enumerate(tokens):
        last = depth == len(tokens) - 1
        here = f"{walked}/{token}"
        if isinstance(node, dict):
            if token not in node:
                if last and not must_exist:
                    return None
                return f"{here} does not exist (keys under {walked or '/'}: {', '.join(map(str, node)) or 'none'})"
            node = node[token]
        elif isinstance(node, list):
            if last and not must_exist and token == "-":
                return None
            if not token.isdigit() or (token != "0" and token.startswith("0")):
                return f"{here}: {walked or '/'} is a list; use an index (or - to append)"
            limit = len(node) if (last and not must_exist) else len(node) - 1
            if int(token) > limit:
                return f"{here}: index {token} is out of range ({walked or '/'} has {len(node)} items)"
            if last:
                return None
            node = node[int(token)]
        else:
            return f"{here}: {walked or '/'} is a {_json_type(node)}, not an object or list"
        walked = here
    return None


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return "string" if isinstance(value, str) else "null"


def _with_option(args: list[Any], option: str, value: int) -> list[str]:
    """`args` with `option value` set once (replacing `option N` or `option=N` if present)."""
    result: list[str] = []
    skip = False
    for arg in (str(a) for a in args):
        if skip:
            skip = False
            continue
        if arg == option:
            skip = True
            continue
        if arg.startswith(option + "="):
            continue
        result.append(arg)
    return [*result, option, str(value)]


def postgres_max_connections(statefulset: dict[str, Any] | None) -> int:
    """`max_connections` from the PostgreSQL container's `-c max_connections=N` args (default 100)."""
    if statefulset is None:
        return POSTGRES_DEFAULT_MAX_CONNECTIONS
    for container in statefulset["spec"]["template"]["spec"].get("containers", []):
        for arg in container.get("args") or []:
            text = str(arg)
            if text.startswith("max_connections="):
                try:
                    return int(text.split("=", 1)[1])
                except ValueError:
                    break
    return POSTGRES_DEFAULT_MAX_CONNECTIONS


def is_app_image(image: Any) -> bool:
    """`hpabench/refapp:0.1.0`, `ghcr.io/x/refapp:1` …: the last path component's repository."""
    if not isinstance(image, str):
        return False
    last = image.rsplit("/", 1)[-1]
    return last.split("@", 1)[0].split(":", 1)[0] == APP_IMAGE_REPO


def _set_image(objects: list[dict[str, Any]], image: str) -> int:
    replaced = 0
    for obj in objects:
        pod_spec = ((obj.get("spec") or {}).get("template") or {}).get("spec")
        if not isinstance(pod_spec, dict):
            continue
        for key in ("initContainers", "containers"):
            for container in pod_spec.get(key) or []:
                if is_app_image(container.get("image")):
                    container["image"] = image
                    replaced += 1
    return replaced


def _web_cpu_request_m(objects: list[dict[str, Any]]) -> int | None:
    """The base web container's CPU request in millicores (the iso-scale-point reference)."""
    deployment = find(objects, *WEB_DEPLOYMENT)
    for container in ((deployment or {}).get("spec", {}).get("template", {}).get("spec", {})).get("containers", []):
        if container.get("name") == WEB_CONTAINER:
            cpu = ((container.get("resources") or {}).get("requests") or {}).get("cpu")
            return cpu_millicores(str(cpu)) if cpu is not None else None
    return None


def render(
    variant: Variant | None = None, *, image: str | None = None, manifests_dir: Path | None = None
) -> list[dict[str, Any]]:
    """Base manifests + `variant` (default: baseline) → final objects. See the module docstring."""
    variant = variant if variant is not None else default_variant()
    source = variant.source_file
    base_dir = manifests_dir if manifests_dir is not None else MANIFESTS_DIR
    paths = sorted(base_dir.glob("*.yaml"))
    if not paths:
        raise SpecError(SpecIssue(str(base_dir), "", "no *.yaml manifests in this directory"))
    for extra, file_name in sorted(OPTIONAL_FILES.items()):
        if getattr(variant.extras, extra):
            optional = base_dir / "optional" / file_name
            if not optional.is_file():
                raise SpecError(SpecIssue(source, f"extras.{extra}", f"{optional} does not exist"))
            paths.append(optional)
    objects = load_manifests(paths)
    seen: set[tuple[str, str]] = set()
    for obj in objects:
        key = (obj["kind"], obj["metadata"]["name"])
        if key in seen:
            raise SpecError(SpecIssue(str(base_dir), f"{key[0]}/{key[1]}", "defined twice in the base manifests"))
        seen.add(key)

    renderer = _Renderer(objects, variant, source)
    base_request_m = _web_cpu_request_m(objects)
    renderer.issues += hpa_api_issues(variant, source)
    if image is not None:
        if not image.strip() or any(ch.isspace() for ch in image):
            renderer.issue("image", f"{image!r} is not a container image reference")
        elif _set_image(objects, image) == 0:
            renderer.issue("image", f"no container runs the app image (…/{APP_IMAGE_REPO}:<tag>) to replace")
    renderer.apply_web()
    renderer.apply_hpa()
    renderer.apply_networking()
    apply_tuning(renderer, base_request_m)
    renderer.check_cpu_request()
    renderer.check_db_connections()
    if renderer.issues:
        raise SpecError(renderer.issues, headline=f"variant {variant.name!r} cannot be applied:")
    renderer.apply_patches()
    if renderer.issues:
        raise SpecError(renderer.issues, headline=f"variant {variant.name!r}: patches cannot be applied:")
    for obj in renderer.objects:
        obj["metadata"].setdefault("annotations", {})
        if obj["metadata"]["annotations"] is None:
            obj["metadata"]["annotations"] = {}
        obj["metadata"]["annotations"][VARIANT_ANNOTATION] = variant.name
    return renderer.objects


class _NoAliasDumper(yaml.SafeDumper):
    """SafeDumper that writes repeated objects out again instead of as `&id001`/`*id001`."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_yaml(objects: list[dict[str, Any]]) -> str:
    """Multi-document YAML (`---` between objects) for `kubectl apply -f -`; stable, no aliases."""
    return yaml.dump_all(
        objects,
        Dumper=_NoAliasDumper,
        explicit_start=True,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1000,
    )


def render_objects(variant_path: Path | None, image: str | None, overrides: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Load `variant_path` (None: the baseline), apply `--set` overrides, render: what `hpabench render` prints."""
    return render(resolve_variant(variant_path, overrides), image=image)


def write_rendered(run_path: Path, objects: list[dict[str, Any]]) -> Path:
    """Write the exact objects deployed to the run directory (the contract's RENDERED_OBJECTS),
    once: the pipeline and a target started on its own (`hpabench up`) both call this."""
    path = Path(run_path) / RENDERED_OBJECTS
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, dump_yaml(objects))
    return path
