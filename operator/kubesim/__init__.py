"""kubesim: a simulated Kubernetes cluster (API server, controllers, kubelet, RBAC) in pure Python.

It knows nothing of Jupyternetes: any Kubernetes client or operator can be tested against it.
"""

from kubesim.cluster import Cluster

__all__ = ["Cluster"]
