"""Loaded at start-up by every Python process the kubesim ``process`` runtime starts (its directory is
first on the container's ``PYTHONPATH``).

A pod in kubesim has its own loopback address (``KUBESIM_POD_IP``) but shares the host's network stack, so
a server binding the wildcard address (``0.0.0.0`` / ``''``) would take the port on every address and
collide with the same server in another pod. This wraps ``socket.socket.bind`` so that a wildcard bind
becomes a bind to the pod's address:

* IPv4 ``0.0.0.0`` / ``''``  -> ``KUBESIM_POD_IP``;
* dual-stack IPv6 ``::`` (``IPV6_V6ONLY`` off, e.g. ``python -m http.server``) -> ``::ffff:KUBESIM_POD_IP``;
* IPv6-only ``::`` -> a throwaway ``[::1]:0`` listener (pods have no IPv6 address of their own).

Afterwards the next ``sitecustomize`` on ``sys.path`` (if any) is loaded, so a distribution's own keeps
working.
"""

from __future__ import annotations

import os
import socket
import sys
from typing import Any

_WILDCARD_V4 = ("", "0.0.0.0")
_WILDCARD_V6 = ("", "::", "::0", "0:0:0:0:0:0:0:0")


def _install(pod_ip: str) -> None:
    original = socket.socket.bind

    def bind(self: socket.socket, address: Any) -> None:
        try:
            if isinstance(address, tuple) and address:
                if self.family == socket.AF_INET and address[0] in _WILDCARD_V4:
                    address = (pod_ip, *address[1:])
                elif self.family == socket.AF_INET6 and address[0] in _WILDCARD_V6:
                    if self.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY):
                        address = ("::1", 0, *address[2:])
                    else:
                        address = (f"::ffff:{pod_ip}", *address[1:])
        except OSError:
            pass
        original(self, address)

    bind.__doc__ = original.__doc__
    setattr(socket.socket, "bind", bind)  # noqa: B010


def _chain() -> None:
    import importlib.machinery
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    path = [p for p in sys.path if os.path.abspath(p or ".") != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", path)
    if spec is None or spec.loader is None or spec.origin == __file__:
        return
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


_pod_ip = os.environ.get("KUBESIM_POD_IP", "")
if _pod_ip:
    _install(_pod_ip)
try:
    _chain()
except Exception as exc:  # a broken site file must not stop the container's program
    sys.stderr.write(f"kubesim sitecustomize: chained sitecustomize failed: {exc!r}\n")
