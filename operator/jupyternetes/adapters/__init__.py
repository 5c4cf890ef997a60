"""I/O adapters: the only place that talks to the Kubernetes API."""
