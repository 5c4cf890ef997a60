# syntax=docker/dockerfile:1
# Jupyternetes images: one Dockerfile, two targets.
#
#   docker build --target operator -t jupyternetes-operator .   # `jupyternetes operator`, jupyternetes[operator]
#   docker build --target hub      -t jupyternetes-hub .        # Zero to JupyterHub's hub + jupyternetes[spawner]
#
# The base images are pinned: the Python image by the digest of its multi-arch index (python:3.12.14-slim),
# the hub image by the Zero to JupyterHub release it comes from (keep it equal to the z2jh chart version you
# deploy, see docs/z2jh.md). Renew both deliberately, never by a moving tag.
ARG PYTHON_IMAGE=python:3.12.14-slim@sha256:e5c9fa26ffb76e11e0f054f30dc2523a2f9693f0c36c0cf1e39b27e152d899fc
ARG HUB_IMAGE=quay.io/jupyterhub/k8s-hub:4.3.3

# ---------------------------------------------------------------------------------------------- build
# Builds the project's wheel, and a virtualenv with the operator and its dependencies (all of them ship
# wheels: no compiler is needed here either).
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
# requirements-{operator,spawner}.txt pin the project to the exact wheel just built.
RUN python -m pip wheel --no-deps --wheel-dir /wheels . \
    && python -c "import pathlib; w = next(pathlib.Path('/wheels').glob('jupyternetes-*.whl')); v = w.name.split('-')[1]; [pathlib.Path(f'/wheels/requirements-{x}.txt').write_text(f'jupyternetes[{x}]=={v}\\n') for x in ('operator', 'spawner')]" \
    && python -m venv /opt/jupyternetes \
    && /opt/jupyternetes/bin/python -m pip install --find-links /wheels -r /wheels/requirements-operator.txt \
    && /opt/jupyternetes/bin/python -m pip uninstall --yes pip \
    && /opt/jupyternetes/bin/python -m compileall -q /opt/jupyternetes/lib

# ------------------------------------------------------------------------------------------- operator
FROM ${PYTHON_IMAGE} AS operator
LABEL org.opencontainers.image.title="jupyternetes-operator" \
      org.opencontainers.image.description="Jupyternetes operator: renders JupyterNotebookTemplates into pods and PVCs for JupyterNotebookInstances" \
      org.opencontainers.image.licenses="Apache-2.0"
# No package manager work and no build tools in the final stage: only a user, and pip removed.
RUN groupadd --system --gid 10001 jupyternetes \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin jupyternetes \
    && python -m pip uninstall --yes --root-user-action=ignore pip
COPY --from=build /opt/jupyternetes /opt/jupyternetes
ENV PATH=/opt/jupyternetes/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
EXPOSE 8080 9090
ENTRYPOINT ["jupyternetes", "operator"]
CMD ["--all-namespaces"]

# ------------------------------------------------------------------------------------------------ hub
# Zero to JupyterHub's hub image with the Jupyternetes spawner added (no kopf: jupyternetes[spawner]).
FROM ${HUB_IMAGE} AS hub
LABEL org.opencontainers.image.title="jupyternetes-hub" \
      org.opencontainers.image.description="Zero to JupyterHub hub image with the Jupyternetes spawner" \
      org.opencontainers.image.licenses="Apache-2.0"
USER 0
COPY --from=build /wheels /tmp/wheels
# The project's own wheel, by its exact version; its dependencies as the hub image's pip resolves them.
RUN python3 -m pip install --no-cache-dir --find-links /tmp/wheels -r /tmp/wheels/requirements-spawner.txt \
    && rm -rf /tmp/wheels \
    && python3 -c "import jupyternetes.spawner"
# The hub image's own non-root user (jovyan).
USER 1000
