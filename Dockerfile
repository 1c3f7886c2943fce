# The headcheck GitHub Action image: the static gate plus the database proof.
#
# Debian 12 (bookworm) throughout: PostgreSQL 15 and Python 3.11 from Debian. The stage "runtime"
# holds what the action runs with; "build" installs PostgreSQL and pip on top of it and collects
# only the server binaries and the libraries they link that "runtime" lacks (no JIT/LLVM, no
# docs, no compilers, no pip). See docs/github-action.md ("The image") for sizes and timings.
FROM debian:bookworm-slim AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LANG=C.UTF-8 \
    PATH="/opt/headcheck/bin:/usr/lib/postgresql/15/bin:${PATH}"

# python3: headcheck. tini: PID 1 that reaps the daemonized postmaster. tzdata: PostgreSQL's time
# zones (Debian builds it against the system's zoneinfo). The postgres user runs the server.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 tini tzdata \
    && rm -rf /var/lib/apt/lists/* /var/cache/debconf/*-old /var/log/apt /var/log/dpkg.log \
    && useradd --system --user-group --home-dir /var/lib/postgresql --no-create-home --shell /usr/sbin/nologin postgres


FROM runtime AS build

SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# Every file "runtime" already has: the collection below leaves those out.
RUN find / -xdev \( -type f -o -type l \) -not -path '/proc/*' | sort > /runtime-files

# postgresql-common first, so that installing the server creates no default cluster.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-common \
    && sed -ri 's/^#?\s*create_main_cluster\s*=.*$/create_main_cluster = false/' /etc/postgresql-common/createcluster.conf \
    && apt-get install -y --no-install-recommends postgresql-15 git python3-venv

# /collect: the PostgreSQL server (postgres, initdb, pg_ctl; psql for --from-schema, and libpq for
# psycopg), its modules
# without llvmjit, its share files without the man pages and contrib extensions, git, and every
# library they link that "runtime" lacks. jit = off in the configuration initdb copies.
COPY .ci/docker-collect /usr/local/sbin/docker-collect
RUN /usr/local/sbin/docker-collect /collect /runtime-files

# headcheck with the database proof's dependencies (PyMySQL too, for database: mariadb through a
# MariaDB service container: the image itself carries no MariaDB server), in a venv without pip. psycopg uses the
# server's libpq (collected above, as are the libssl and libkrb5 it links), not the second copies
# the psycopg-binary wheel bundles (10 MB).
COPY . /opt/headcheck-src
RUN python3 -m venv /opt/headcheck
RUN pip install --no-cache-dir "/opt/headcheck-src[postgres,mysql]" -c /opt/headcheck-src/constraints.txt \
    && pip uninstall -y pip setuptools psycopg-binary


FROM runtime

COPY --from=build /collect/ /
COPY --from=build /opt/headcheck /opt/headcheck
# The linker's cache, so that psycopg finds libpq (ctypes.util.find_library reads it).
RUN ldconfig

# No USER: GitHub runs Docker actions as root; the database proof drops privileges for PostgreSQL.
ENTRYPOINT ["/usr/bin/tini", "--", "headcheck", "action"]
