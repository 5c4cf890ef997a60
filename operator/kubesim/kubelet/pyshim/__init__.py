"""A directory the process runtime puts first on a container's ``PYTHONPATH`` (see ``sitecustomize``)."""
