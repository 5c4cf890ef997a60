"""Watch caches: the objects the operator's watches have delivered, kept in memory.

The operator reads templates, instances and children from here instead of listing the API on every
reconcile (the original LISTs by five labels per reconcile, so its API load grows with users). Entry points
feed the caches from watch events; the reconciler only reads them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from jupyternetes.core.models import GROUP
from jupyternetes.core.naming import LABEL_INSTANCE
from jupyternetes.core.resources import GroupResource

Obj = dict[str, Any]
Key = tuple[str, str]  # (namespace, name)


def key_of(obj: Obj) -> Key:
    meta = obj.get("metadata", {})
    return (meta.get("namespace") or "", meta["name"])


class ObjectCache:
    def __init__(self) -> None:
        self._objects: dict[Key, Obj] = {}
        # A write counter and, per object, the count of its last write: tells a listing which objects
        # were written while it ran (see prune).
        self._clock = 0
        self._written: dict[Key, int] = {}

    @property
    def clock(self) -> int:
        return self._clock

    def upsert(self, obj: Obj) -> Obj | None:
        """Store obj unless the cache holds a newer version; returns the previous one.

        managedFields are dropped (nothing here reads them, and they are half of a pod's size: client-go's
        informers strip them the same way to keep caches small)."""
        meta = obj.get("metadata") or {}
        if "managedFields" in meta:
            obj = {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}
        key = key_of(obj)
        old = self._objects.get(key)
        if old is not None and _newer(old, obj):
            return old
        self._objects[key] = obj
        self._clock += 1
        self._written[key] = self._clock
        return old

    def remove(self, obj: Obj) -> None:
        key = key_of(obj)
        current = self._objects.get(key)
        # A DELETED event of an older object must not evict a newer one of the same name.
        if current is not None and current.get("metadata", {}).get("uid") == obj.get("metadata", {}).get(
            "uid"
        ):
            del self._objects[key]
            self._written.pop(key, None)

    def prune(self, listed: set[Key], since: int, namespace: str | None = None) -> list[Obj]:
        """Drop what a complete listing did not contain: objects deleted while the watch was down (after a
        410 Expired or a failed watch, kopf lists again, and a listing says nothing of what is gone).

        ``listed``: the keys the listing returned; ``since``: :attr:`clock` when the listing began (objects
        written since, such as a child this operator just created, are newer than the listing and kept);
        ``namespace``: the listing's namespace (None: all). Returns the dropped objects."""
        dropped = []
        for key, obj in list(self._objects.items()):
            if key in listed or self._written.get(key, 0) > since:
                continue
            if namespace is not None and key[0] != namespace:
                continue
            del self._objects[key]
            self._written.pop(key, None)
            dropped.append(obj)
        return dropped

    def get(self, namespace: str, name: str) -> Obj | None:
        return self._objects.get((namespace, name))

    def __len__(self) -> int:
        return len(self._objects)

    def __iter__(self) -> Iterator[Obj]:
        return iter(list(self._objects.values()))


def _newer(a: Obj, b: Obj) -> bool:
    """Whether a was written after b (resourceVersions compare as integers on etcd-backed servers; when
    they don't parse, trust arrival order). Across uids too: an event of a deleted object that arrives after
    the operator stored its successor's create answer (a pod created again) must not replace it."""
    ma, mb = a.get("metadata", {}), b.get("metadata", {})
    try:
        return int(ma.get("resourceVersion", "0")) > int(mb.get("resourceVersion", "0"))
    except ValueError:
        return False


def owning_instance(obj: Obj) -> str | None:
    """The name of the instance a child belongs to: its controller ownerReference, else its label."""
    meta = obj.get("metadata", {})
    for ref in meta.get("ownerReferences") or ():
        if ref.get("kind") == "JupyterNotebookInstance":
            return str(ref.get("name"))
    label = (meta.get("labels") or {}).get(LABEL_INSTANCE)
    return str(label) if label else None


class Caches:
    def __init__(self) -> None:
        self.instances = ObjectCache()
        self.templates = ObjectCache()
        self.pods = ObjectCache()
        self.pvcs = ObjectCache()
        # Other resources of the kinds the operator watches (option --other-resource), per kind.
        self.others: dict[GroupResource, ObjectCache] = {}
        # template (namespace, name) -> instances that wait for it or use it
        self.template_users: dict[Key, set[Key]] = defaultdict(set)

    def other(self, kind: GroupResource) -> ObjectCache:
        """The cache of one watched kind of other resources (created empty on first use)."""
        cache = self.others.get(kind)
        if cache is None:
            cache = self.others[kind] = ObjectCache()
        return cache

    def by_resource(self, group: str, plural: str) -> ObjectCache | None:
        """The cache a watch of ``plural`` in ``group`` feeds, if any."""
        if group == GROUP:
            own = {"jupyternotebookinstances": self.instances, "jupyternotebooktemplates": self.templates}
            return own.get(plural)
        if group == "" and plural in ("pods", "persistentvolumeclaims"):
            return self.pods if plural == "pods" else self.pvcs
        return self.others.get(GroupResource(group, plural))
