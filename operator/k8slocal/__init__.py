"""k8s-local: upstream Kubernetes (etcd, kube-apiserver, kube-controller-manager, kube-scheduler) built from
source with the machine's Go and run as a local control plane, for tests and demos."""

from k8slocal.build import Binaries, SetupError, ensure, find
from k8slocal.controlplane import ControlPlane, StartFailed
from k8slocal.versions import DEFAULT_VERSION

__all__ = ["DEFAULT_VERSION", "Binaries", "ControlPlane", "SetupError", "StartFailed", "ensure", "find"]
