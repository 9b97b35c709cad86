"""One small door to the API server: JSON in, JSON out, every request counted and recorded.

`KubeApi` wraps the official client's `ApiClient` (kubeconfig or in-cluster config, auth, TLS,
proxies) but sends plain REST requests built from `resources` paths, so the target can apply any
rendered object exactly as rendered (the 37.x typed APIs re-validate bodies with pydantic and
would reject or rewrite fields we must send verbatim). Every request is appended to `calls`
(method, path, query, time): the RBAC coverage test and the API-load measurement read it.

Errors: `ApiError(status, reason, message, body)` for any non-2xx answer, `TargetError` when the
server cannot be reached. `close()` releases the connection pool (idempotent).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hpabench.errors import TargetError

APPLY_CONTENT_TYPE = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"
FIELD_MANAGER = "hpabench"
DEFAULT_TIMEOUT_S = 30.0
USER_AGENT_PREFIX = "hpabench/"


class ApiError(TargetError):
    """The API server answered with a non-2xx status."""

    def __init__(self, status: int, reason: str, message: str, body: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.body = body or {}


@dataclass(frozen=True)
class ApiCall:
    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    ts: float
    content_type: str | None = None


def _client_from_config(kubeconfig: Path | None, context: str | None, in_cluster: bool | None) -> Any:
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    configuration = client.Configuration()
    try:
        if in_cluster or (in_cluster is None and kubeconfig is None and context is None and _in_cluster()):
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        else:
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=str(kubeconfig) if kubeconfig else None, context=context, client_configuration=configuration
            )
    except (ConfigException, OSError) as exc:
        where = f"kubeconfig {kubeconfig}" if kubeconfig else "the default kubeconfig (~/.kube/config or $KUBECONFIG)"
        raise TargetError(
            f"cannot load {where}{f' context {context!r}' if context else ''}: {exc}\n"
            "fix: point --kubeconfig/--context at a reachable cluster (kind: `kind create cluster`; "
            "`kubectl config get-contexts` lists them)"
        ) from None
    return client.ApiClient(configuration)


def _in_cluster() -> bool:
    import os

    return (
        bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
        and Path("/var/run/secrets/kubernetes.io/serviceaccount/token").exists()
    )


class WatchStream:
    """The events of one open watch, line by line. `shutdown()` (any thread) ends a blocked read."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw

    def __iter__(self) -> Iterator[dict[str, Any]]:
        buffer = b""
        for chunk in self._raw.stream(amt=None, decode_content=False):
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                if line.strip():
                    yield json.loads(line)

    def shutdown(self) -> None:
        self._raw.shutdown()

    def close(self) -> None:
        self._raw.release_conn()
        self._raw.close()


class KubeApi:
    """Plain REST over an `ApiClient`. Thread-safe (urllib3's pool is)."""

    def __init__(self, api_client: Any) -> None:
        from hpabench import __version__

        self.api_client = api_client
        # Audit logs and API priority-and-fairness see who is asking.
        api_client.user_agent = f"{USER_AGENT_PREFIX}{__version__}"
        self.calls: list[ApiCall] = []
        self._lock = threading.Lock()
        self._closed = False

    @classmethod
    def connect(
        cls, kubeconfig: Path | None = None, context: str | None = None, in_cluster: bool | None = None
    ) -> KubeApi:
        """From a kubeconfig (optionally one context) or the pod's service account."""
        return cls(_client_from_config(kubeconfig, context, in_cluster))

    @classmethod
    def for_host(cls, host: str) -> KubeApi:
        """An unauthenticated client of `host` (tests against an emulator)."""
        from kubernetes import client

        configuration = client.Configuration()
        configuration.host = host
        return cls(client.ApiClient(configuration))

    @property
    def host(self) -> str:
        return str(self.api_client.configuration.host)

    def _record(self, method: str, path: str, query: dict[str, Any] | None, content_type: str | None) -> None:
        q = tuple(sorted((str(k), str(v)) for k, v in (query or {}).items()))
        with self._lock:
            self.calls.append(ApiCall(method, path, q, time.time(), content_type))

    def _send(
        self,
        method: str,
        path: str,
        query: dict[str, Any] | None,
        body: Any,
        content_type: str | None,
        timeout: Any,
    ) -> Any:
        if self._closed:
            raise TargetError("the Kubernetes API client is closed")
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        elif body is not None:
            headers["Content-Type"] = "application/json"
        self._record(method, path, query, headers.get("Content-Type"))
        request = self.api_client.param_serialize(
            method,
            path,
            query_params=[(k, v) for k, v in (query or {}).items()],
            header_params=headers,
            auth_settings=["BearerToken"],
        )
        url, header_params = request[1], request[2]
        try:
            return self.api_client.call_api(
                method, url, header_params=header_params, body=body, _request_timeout=timeout
            )
        except Exception as exc:  # urllib3 MaxRetryError/ProtocolError/timeouts: the server is not answering
            from kubernetes.client.exceptions import ApiException

            if isinstance(exc, ApiException) and exc.status:
                raise ApiError(exc.status, str(exc.reason), str(exc.body or "")) from None
            raise TargetError(f"the Kubernetes API at {self.host} is not reachable ({method} {path}): {exc}") from exc

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> dict[str, Any]:
        """One request; the decoded JSON answer ({} for an empty body). ApiError on non-2xx."""
        response = self._send(method, path, query, body, content_type, (min(10.0, timeout_s), timeout_s))
        raw = response.read()
        status = int(response.status)
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            data = {"message": raw.decode("utf-8", "replace")[:500]}
        if not 200 <= status <= 299:
            message = data.get("message") if isinstance(data, dict) else None
            reason = data.get("reason") if isinstance(data, dict) else None
            raise ApiError(status, str(reason or response.response.reason), str(message or raw[:300]), data)
        return data if isinstance(data, dict) else {"items": data}

    def request_text(self, path: str, query: dict[str, Any] | None = None, timeout_s: float = DEFAULT_TIMEOUT_S) -> str:
        """A GET whose answer is text (a pod's log). ApiError on non-2xx."""
        response = self._send("GET", path, query, None, None, (min(10.0, timeout_s), timeout_s))
        raw = response.read()
        if not 200 <= int(response.status) <= 299:
            raise ApiError(int(response.status), str(response.response.reason), raw[:300].decode("utf-8", "replace"))
        return str(raw.decode("utf-8", "replace"))

    def get(self, path: str, **query: Any) -> dict[str, Any]:
        return self.request("GET", path, query=query or None)

    def stream(self, path: str, query: dict[str, Any], read_timeout_s: float) -> WatchStream:
        """A watch: iterate the decoded events until the server (or `read_timeout_s` of silence)
        ends it. ApiError at once for a non-2xx answer. Close the stream to release the connection."""
        response = self._send("GET", path, {**query, "watch": "true"}, None, None, (10.0, read_timeout_s))
        raw = response.response  # the urllib3 response, not yet read
        status = int(response.status)
        if not 200 <= status <= 299:
            body = raw.read()
            raw.release_conn()
            try:
                data = json.loads(body)
            except ValueError:
                data = {}
            raise ApiError(status, str(data.get("reason", raw.reason)), str(data.get("message", body[:300])), data)
        return WatchStream(raw)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.api_client.close()

    def __enter__(self) -> KubeApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
