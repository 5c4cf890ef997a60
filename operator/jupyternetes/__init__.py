"""Jupyternetes: JupyterHub notebook servers provisioned from administrator templates by an operator."""

__version__ = "0.1.0.dev0"
