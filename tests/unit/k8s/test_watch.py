"""`CollectionWatch` against a scripted API: list, watch, 410 Gone → re-list, prompt stop."""

from __future__ import annotations

import threading
from typing import Any

from hpabench.deploy.k8s.api import ApiError
from hpabench.deploy.k8s.watch import CollectionWatch


def pod(name: str, rv: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns", "resourceVersion": rv}}


class ScriptedApi:
    """Lists and watch streams served from scripts; records what was asked."""

    def __init__(self, lists: list[list[dict[str, Any]]], streams: list[Any]) -> None:
        self.lists, self.streams = lists, streams
        self.list_calls = 0
        self.watch_versions: list[str | None] = []
        self.blocked = threading.Event()
        self.release = threading.Event()

    def request(self, method: str, path: str, query: Any = None) -> dict[str, Any]:
        items = self.lists[min(self.list_calls, len(self.lists) - 1)]
        self.list_calls += 1
        return {"metadata": {"resourceVersion": str(10 * self.list_calls)}, "items": items}

    def stream(self, path: str, query: dict[str, Any], read_timeout_s: float) -> Any:
        self.watch_versions.append(query.get("resourceVersion"))
        script = self.streams.pop(0) if self.streams else "block"
        if isinstance(script, ApiError):
            raise script
        api = self

        class Stream:
            def __iter__(self):  # type: ignore[no-untyped-def]
                if script == "block":
                    api.blocked.set()
                    api.release.wait(10)
                    raise OSError("connection shut down")
                yield from script

            def shutdown(self) -> None:
                api.release.set()

            def close(self) -> None:
                pass

        return Stream()


def test_expired_watch_relists_and_reports_what_vanished_meanwhile() -> None:
    api = ScriptedApi(
        lists=[[pod("a", "1"), pod("b", "2")], [pod("b", "5"), pod("c", "6")]],
        streams=[
            [{"type": "MODIFIED", "object": pod("a", "3")}, {"type": "ERROR", "object": {"code": 410}}],
            ApiError(410, "Expired", "too old resource version"),
        ],
    )
    seen: list[tuple[str, str]] = []
    watch = CollectionWatch(api, "/api/v1/namespaces/ns/pods", lambda k, o: seen.append((k, o["metadata"]["name"])))
    watch.start()
    assert api.blocked.wait(5)
    watch.stop()
    assert seen == [
        ("ADDED", "a"),
        ("ADDED", "b"),
        ("MODIFIED", "a"),  # first list, then the watch
        ("MODIFIED", "b"),
        ("ADDED", "c"),
        ("DELETED", "a"),
    ]  # re-list after 410: a vanished
    # ERROR event → re-list → 410 on the next watch → re-list again (nothing changed: nothing delivered)
    assert api.watch_versions == ["10", "20", "30"]
    assert watch.relists == 2


def test_stop_ends_a_quiet_watch_at_once_and_resumes_from_bookmarks() -> None:
    api = ScriptedApi(lists=[[]], streams=[[{"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "99"}}}]])
    watch = CollectionWatch(api, "/p", lambda k, o: None).start()
    assert api.blocked.wait(5)
    assert api.watch_versions == ["10", "99"]  # the bookmark's version, no re-list
    watch.stop(timeout_s=2)
    assert not watch._thread.is_alive() and api.list_calls == 1
