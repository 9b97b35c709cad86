"""Container environment resolution: envFrom, env, $(VAR), Secrets, service links (kubelet rules)."""

from __future__ import annotations

import base64

import pytest

from hpabench.deploy.local.env import (
    EnvError,
    PodContext,
    ServiceLink,
    expand,
    resolve_env,
    secret_values,
    service_env_name,
    service_link_env,
)

CTX = PodContext(
    configmaps={"web-config": {"DB_NAME": "hpabench", "LOG_LEVEL": "warning", "PORT": "9999"}},
    secrets={"db-credentials": {"POSTGRES_PASSWORD": "s3cret", "POSTGRES_USER": "hpabench"}},
    pod_name="web-abc-xyz12",
    namespace="hpabench",
    services=(
        ServiceLink("postgres", 40001),
        ServiceLink("redis", 40002),
        ServiceLink("web-api", 40003, {"http": 40003}),
    ),
)


def test_service_link_names_and_values() -> None:
    assert service_env_name("web-api") == "WEB_API"
    env = service_link_env(list(CTX.services))
    assert env["POSTGRES_SERVICE_HOST"] == "127.0.0.1"
    assert env["POSTGRES_SERVICE_PORT"] == "40001"
    assert env["WEB_API_SERVICE_PORT_HTTP"] == "40003"


def test_expand_rules() -> None:
    env = {"A": "1", "B": "two"}
    assert expand("$(A)-$(B)", env) == "1-two"
    assert expand("$(MISSING)", env) == "$(MISSING)"  # unresolvable stays verbatim
    assert expand("$$(A)", env) == "$(A)"  # $$ escapes
    assert expand("cost $5 and $(A)", env) == "cost $5 and 1"
    assert expand("$(A)", {}, env) == "1"  # falls through the mappings in order


def test_resolve_env_order_and_precedence() -> None:
    container = {
        "envFrom": [
            {"configMapRef": {"name": "web-config"}},
            {"secretRef": {"name": "db-credentials"}, "prefix": "S_"},
        ],
        "env": [
            {"name": "DB_HOST", "value": "$(POSTGRES_SERVICE_HOST)"},
            {"name": "DB_PORT", "value": "$(POSTGRES_SERVICE_PORT)"},
            {
                "name": "DB_PASSWORD",
                "valueFrom": {"secretKeyRef": {"name": "db-credentials", "key": "POSTGRES_PASSWORD"}},
            },
            {"name": "URL", "value": "postgres://$(DB_HOST):$(DB_PORT)/$(DB_NAME)"},
            {"name": "LOG_LEVEL", "value": "debug"},  # env overrides envFrom
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "REDIS_SERVICE_PORT", "value": "1234"},  # user-defined wins over service links
        ],
    }
    env = resolve_env(container, CTX)
    assert env["DB_HOST"] == "127.0.0.1"
    assert env["DB_PORT"] == "40001"
    assert env["DB_PASSWORD"] == "s3cret"
    assert env["URL"] == "postgres://127.0.0.1:40001/hpabench"
    assert env["LOG_LEVEL"] == "debug"
    assert env["S_POSTGRES_USER"] == "hpabench"
    assert env["POD"] == "web-abc-xyz12"
    assert env["REDIS_SERVICE_PORT"] == "1234"
    assert env["POSTGRES_SERVICE_PORT"] == "40001"


def test_optional_references_are_skipped() -> None:
    container = {
        "envFrom": [{"configMapRef": {"name": "absent", "optional": True}}],
        "env": [
            {"name": "X", "valueFrom": {"secretKeyRef": {"name": "db-credentials", "key": "NOPE", "optional": True}}}
        ],
    }
    env = resolve_env(container, CTX)
    assert "X" not in env


@pytest.mark.parametrize(
    ("container", "path", "message"),
    [
        ({"envFrom": [{"configMapRef": {"name": "absent"}}]}, "envFrom.0.configMapRef.name", "not among"),
        (
            {"env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "db-credentials", "key": "NOPE"}}}]},
            "env.0.valueFrom.secretKeyRef.key",
            "no key",
        ),
        ({"env": [{"value": "x"}]}, "env.0", "name"),
        (
            {"env": [{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "spec.foo"}}}]},
            "env.0.valueFrom.fieldRef",
            "not supported",
        ),
        (
            {"env": [{"name": "X", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}}]},
            "env.0.valueFrom",
            "not supported",
        ),
    ],
)
def test_bad_references_name_the_field(container: dict[str, object], path: str, message: str) -> None:
    with pytest.raises(EnvError) as info:
        resolve_env(container, CTX)
    assert info.value.path.startswith(path)
    assert message in info.value.message


def test_secret_values_decode_data_and_overlay_string_data() -> None:
    secret = {
        "metadata": {"name": "s"},
        "data": {"A": base64.b64encode(b"from-data").decode(), "B": base64.b64encode(b"old").decode()},
        "stringData": {"B": "new"},
    }
    assert secret_values(secret) == {"A": "from-data", "B": "new"}
    with pytest.raises(EnvError, match="base64"):
        secret_values({"metadata": {"name": "s"}, "data": {"A": "***"}})
