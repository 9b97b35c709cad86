"""The app image's inputs: requirements match the app's imports, the Dockerfile's promises hold."""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

APP_DIR = Path(__file__).resolve().parents[2] / "deploy" / "app"
PACKAGE = APP_DIR / "hpabench_refapp"

# import name → distribution name, where they differ
DISTRIBUTION = {"prometheus_client": "prometheus-client"}
# required at runtime though never imported by name: the server (run as `python -m uvicorn`) and
# its fast loop and HTTP parser
RUNTIME_ONLY = {"uvicorn", "uvloop", "httptools"}


def third_party_imports() -> set[str]:
    found = set()
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "hpabench_refapp":
                    found.add(top)
    return found


def requirements() -> dict[str, str]:
    pins = {}
    for line in (APP_DIR / "requirements.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"requirements.txt: {line!r} is not pinned with =="
            pins[name.strip().lower()] = version.strip()
    return pins


def test_the_app_is_self_contained() -> None:
    imports = third_party_imports()
    assert "hpabench" not in imports  # the image carries hpabench_refapp only
    assert imports  # the scan sees something


def test_requirements_cover_every_import_and_nothing_else() -> None:
    wanted = {DISTRIBUTION.get(name, name).lower() for name in third_party_imports()} | RUNTIME_ONLY
    assert set(requirements()) == wanted


def test_requirements_pin_what_the_local_target_runs() -> None:
    # The local target runs the app from this virtualenv: keep the image on the same versions.
    mismatched = {
        name: (pinned, metadata.version(name))
        for name, pinned in requirements().items()
        if metadata.version(name) != pinned
    }
    assert mismatched == {}


def test_dockerfile_runs_non_root_under_any_uid_in_group_zero() -> None:
    text = (APP_DIR / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim AS build$", text, re.MULTILINE)
    users = re.findall(r"^USER (\S+)$", text, re.MULTILINE)
    assert users and users[-1] == "10001:0"  # numeric, non-root, group 0 (OpenShift arbitrary UID)
    assert "chmod -R g=u,g-w" in text  # group 0 reads what the owner reads, writes nothing
    assert "--no-cache-dir" in text
    assert re.search(r"^EXPOSE 8080$", text, re.MULTILINE)
    assert "hpabench_refapp.main:app --host 0.0.0.0" in text
    assert "COPY hpabench_refapp " in text and "COPY requirements.txt " in text


def test_manifest_user_matches_the_image_user() -> None:
    web = (APP_DIR.parent / "manifests" / "30-web.yaml").read_text(encoding="utf-8")
    assert "runAsUser: 10001" in web and "readOnlyRootFilesystem: true" in web
