"""In-process controllers that act like Kubernetes' own (namespace lifecycle, garbage collector, ...).

They run as asyncio tasks on the API server's event loop and write through ``kubesim.api.API``, so their
writes follow the same rules and produce the same watch events as a client's.
"""
