"""List-then-watch of one collection in a thread, surviving expiry (`410 Gone`) by re-listing.

`CollectionWatch(api, path, on_event, label_selector=)` lists the collection (every item is
delivered as `ADDED`, and items that vanished between a watch and a re-list as `DELETED`), then
watches from the list's resourceVersion with `allowWatchBookmarks` so quiet collections keep a
fresh resourceVersion. Each watch asks the server to end it after `watch_timeout_s` (the client
reads with a little more patience), and is simply resumed from the last resourceVersion: one
request per collection per `watch_timeout_s` while nothing changes. An `ERROR` event or HTTP 410
means our resourceVersion is too old: re-list. `stop()` shuts the open connection down at once,
so stopping never waits for the server's timeout.

`on_event(type, obj)` runs in the watch thread; it must be quick and must not raise.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from hpabench.deploy.k8s.api import ApiError, KubeApi
from hpabench.errors import TargetError

OnEvent = Callable[[str, dict[str, Any]], None]
RETRY_S = 1.0


def _key(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def _version(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


class CollectionWatch:
    """One collection watched until `stop()`; counts its re-lists (watch expiries) in `relists`."""

    def __init__(
        self,
        api: KubeApi,
        path: str,
        on_event: OnEvent,
        *,
        label_selector: str | None = None,
        watch_timeout_s: int = 60,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.api = api
        self.path = path
        self.on_event = on_event
        self.label_selector = label_selector
        self.watch_timeout_s = watch_timeout_s
        self.on_error = on_error
        self.relists = 0
        self.synced = threading.Event()
        self._stop = threading.Event()
        self._known: dict[str, dict[str, Any]] = {}
        self._response_lock = threading.Lock()
        self._stream: Any = None
        self._thread = threading.Thread(target=self._run, name=f"watch {path}", daemon=True)

    def start(self) -> CollectionWatch:
        self._thread.start()
        return self

    def _query(self) -> dict[str, Any]:
        return {"labelSelector": self.label_selector} if self.label_selector else {}

    def _list(self) -> str:
        listing = self.api.request("GET", self.path, query=self._query() or None)
        seen: dict[str, dict[str, Any]] = {}
        for item in listing.get("items") or []:
            key = _key(item)
            seen[key] = item
            known = self._known.get(key)
            if known is None:
                self._deliver("ADDED", item)
            elif _version(known) != _version(item) or not _version(item):  # unchanged since we saw it: skip
                self._deliver("MODIFIED", item)
        for key in set(self._known) - set(seen):
            self._deliver("DELETED", self._known[key])
        self._known = seen
        self.synced.set()
        return str((listing.get("metadata") or {}).get("resourceVersion") or "")

    def _deliver(self, kind: str, obj: dict[str, Any]) -> None:
        try:
            self.on_event(kind, obj)
        except Exception as exc:  # a recorder bug must not kill the watch; it is reported once per event
            if self.on_error:
                self.on_error(f"watch {self.path}: handler failed on {kind} {_key(obj)}: {exc!r}")

    def _watch_once(self, resource_version: str) -> str | None:
        """Stream one watch; the resourceVersion to resume from, or None to re-list."""
        query = {**self._query(), "allowWatchBookmarks": "true", "timeoutSeconds": str(self.watch_timeout_s)}
        if resource_version and resource_version != "...":
            query["resourceVersion"] = resource_version
        stream = self.api.stream(self.path, query, read_timeout_s=self.watch_timeout_s + 15)
        with self._response_lock:
            self._stream = stream
        try:
            for event in stream:
                if self._stop.is_set():
                    return resource_version
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    return None  # usually 410 Gone: the resourceVersion expired
                version = str((obj.get("metadata") or {}).get("resourceVersion") or resource_version)
                if kind == "BOOKMARK":
                    resource_version = version
                    continue
                if kind == "DELETED":
                    self._known.pop(_key(obj), None)
                else:
                    self._known[_key(obj)] = obj
                self._deliver(str(kind), obj)
                resource_version = version
        finally:
            with self._response_lock:
                self._stream = None
            stream.close()
        return resource_version

    def _run(self) -> None:
        resource_version: str | None = None
        while not self._stop.is_set():
            try:
                if resource_version is None:
                    if self.synced.is_set():
                        self.relists += 1
                    resource_version = self._list()
                resource_version = self._watch_once(resource_version)
            except ApiError as exc:
                if exc.status != 410 and self.on_error and not self._stop.is_set():
                    self.on_error(f"watch {self.path}: {exc}")
                resource_version = None
                self._stop.wait(RETRY_S)
            except (TargetError, OSError, ValueError) as exc:  # connection dropped or shut down by stop()
                if self._stop.is_set():
                    return
                if self.on_error:
                    self.on_error(f"watch {self.path}: {exc}")
                self._stop.wait(RETRY_S)
            except Exception as exc:  # urllib3 protocol errors when the stream is cut mid-read
                if self._stop.is_set():
                    return
                if self.on_error:
                    self.on_error(f"watch {self.path}: {exc!r}")
                self._stop.wait(RETRY_S)

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop watching and wait for the thread (idempotent)."""
        self._stop.set()
        with self._response_lock:
            stream = self._stream
        if stream is not None:
            stream.shutdown()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def wait_synced(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        return self.synced.wait(max(0.0, deadline - time.monotonic()))
