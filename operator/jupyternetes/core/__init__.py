"""Pure logic: API models, rendering, naming, planning. No I/O, no Kubernetes client, no kopf."""
