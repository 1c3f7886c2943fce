# The headcheck GitHub Action image: the static gate plus the database proof.
# bookworm pins PostgreSQL 15 from Debian; the unsuffixed python:3.x-slim tags follow trixie now.
FROM python:3.12-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PATH="/usr/lib/postgresql/15/bin:${PATH}"

# postgresql-common first, so that installing the server creates no default cluster.
# git: `headcheck --base`; tini: PID 1 that reaps the daemonized postmaster.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-common \
    && sed -ri 's/^#?\s*create_main_cluster\s*=.*$/create_main_cluster = false/' /etc/postgresql-common/createcluster.conf \
    && apt-get install -y --no-install-recommends postgresql-15 git tini \
    && rm -rf /var/lib/apt/lists/*

COPY . /opt/headcheck-src
RUN pip install --no-cache-dir "/opt/headcheck-src[postgres]"

# No USER: GitHub runs Docker actions as root; the database proof drops privileges for PostgreSQL.
ENTRYPOINT ["/usr/bin/tini", "--", "headcheck", "action"]
