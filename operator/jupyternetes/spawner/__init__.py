"""The JupyterHub spawner: ``c.JupyterHub.spawner_class = "jupyternetes.spawner.JupyternetesSpawner"``.

Needs ``jupyternetes[spawner]`` (JupyterHub and kubernetes_asyncio); never imports kopf or the operator's
handlers (checked by import-linter).
"""

from jupyternetes.spawner.spawner import JupyternetesSpawner, SpawnFailed

__all__ = ["JupyternetesSpawner", "SpawnFailed"]
