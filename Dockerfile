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
# Builds the project's wheel, and a virtualenv with the operator and its dependencies, all from the lock
# (requirements/, docs/versions.md): exact versions, every file hash-checked, nothing resolved here. Every
# dependency ships wheels: no compiler is needed.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY requirements/build.txt requirements/operator.txt requirements/spawner-jupyterhub5.txt ./requirements/
COPY operator ./operator
# The wheel is built with the locked build backend (no isolated build env resolving its own); the hub stage
# gets it with the spawner's lock, resolved against the hub image's JupyterHub (5.4.4). The operator's venv
# has no pip (and no setuptools): the build venv's pip installs into it.
RUN python -m venv /opt/build \
    && /opt/build/bin/python -m pip install --require-hashes --no-deps -r requirements/build.txt \
    && /opt/build/bin/python -m pip wheel --no-deps --no-build-isolation --wheel-dir /wheels . \
    && cp requirements/spawner-jupyterhub5.txt /wheels/requirements-spawner.txt \
    && python -m venv --without-pip /opt/jupyternetes \
    && /opt/build/bin/python -m pip --python /opt/jupyternetes/bin/python install --require-hashes --no-deps \
       -r requirements/operator.txt \
    && /opt/build/bin/python -m pip --python /opt/jupyternetes/bin/python install --no-deps /wheels/jupyternetes-*.whl \
    && /opt/build/bin/python -m pip --python /opt/jupyternetes/bin/python check \
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
# The spawner's dependencies as the lock names them for this image's JupyterHub (the versions the spawner's
# tests and the e2e suite ran with: make test-jupyterhub5), hash-checked; then the project's wheel alone;
# then pip check, so a conflict with a package of the base image fails the build.
RUN python3 -m pip install --no-cache-dir --require-hashes --no-deps -r /tmp/wheels/requirements-spawner.txt \
    && python3 -m pip install --no-cache-dir --no-deps /tmp/wheels/jupyternetes-*.whl \
    && python3 -m pip check \
    && rm -rf /tmp/wheels \
    && python3 -c "import jupyternetes.spawner"
# The hub image's own non-root user (jovyan).
USER 1000
