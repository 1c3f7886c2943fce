"""Inside the migration child: the project's models, created in a database of their own.

``env.py`` hands its models to Alembic as ``context.configure(target_metadata=...)``;
:class:`MetadataCapture` keeps what it passed (``alembic check`` and autogenerate compare exactly
that). :func:`compare_models` then runs ``metadata.create_all`` in an empty database on the same
server and compares what PostgreSQL made of the models with what it made of the migrations
(:mod:`headcheck.db.model_diff`), instead of comparing Python objects with reflected ones as
autogenerate does.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from headcheck.db import model_diff, snapshot

__all__ = ["MetadataCapture", "compare_models"]


class MetadataCapture:
    """What env.py passed as ``target_metadata`` (one MetaData or a list of them), its version
    table, and its ``include_name``/``include_object`` hooks. Alembic's behaviour is unchanged:
    ``configure`` is called with exactly the arguments env.py gave."""

    def __init__(self) -> None:
        self.metadata: list[Any] = []  # of the last run that passed any
        self.several = False  # a run passed different metadata to different configure() calls
        self.version_table = "alembic_version"
        self.include_name: Callable[..., Any] | None = None
        self.include_object: Callable[..., Any] | None = None
        self._run: list[int] = []  # ids of the metadata collections passed in the running run_env()
        self.target: tuple[str, str] | None = None  # (the project's URL, the models database)
        self.build: _Build | None = None  # create_all, running next to the migrations

    def prepare(self, config_url: str, database: str) -> None:
        """The models go to ``database``: start ``create_all`` there as soon as env.py has passed
        its target_metadata, in a thread, while the migrations run (both wait on the server)."""
        self.target = (config_url, database)
        self._start()

    def _start(self) -> None:
        if self.build is None and self.target is not None and self.metadata:
            self.build = _Build(_sync_url(*self.target), list(self.metadata))

    def observe(self, environment: Any) -> None:
        """Wrap ``configure`` on this EnvironmentContext (the ``alembic.context`` proxy calls the
        instance's attribute, so env.py's ``context.configure`` goes through the wrapper)."""
        original = environment.configure
        self._run = []

        def configure(*args: Any, **kwargs: Any) -> Any:
            with contextlib.suppress(Exception):  # never let the observation change what env.py sees
                self._keep(inspect.signature(original).bind_partial(*args, **kwargs).arguments)
            return original(*args, **kwargs)

        environment.configure = configure

    def _keep(self, arguments: dict[str, Any]) -> None:
        target = arguments.get("target_metadata")
        if target is None:
            return
        collection = list(target) if isinstance(target, (list, tuple)) else [target]
        if self._run and id(target) not in self._run:
            self.several = True  # a multi-database env.py: one metadata per database
        self._run.append(id(target))
        self.metadata = collection
        self.version_table = str(arguments.get("version_table") or "alembic_version")
        self.include_name = arguments.get("include_name")
        self.include_object = arguments.get("include_object")
        self._start()


class _Build:
    """``metadata.create_all`` for each captured MetaData, in one transaction (all or nothing), in a
    thread of its own. Schemas the tables name are created first; whatever else fails (a type of an
    extension the migrations install, say) is tried again after the migrations (:func:`_compare`)."""

    def __init__(self, url: Any, metadata: list[Any]) -> None:
        import threading

        self.url = url
        self.metadata = metadata
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="headcheck-models", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            _create_all(self.url, self.metadata)
        except BaseException as exc:  # reported (or retried) by the model comparison
            self.error = exc

    def wait(self) -> BaseException | None:
        self.thread.join()
        return self.error


def _create_all(url: Any, metadata: list[Any]) -> None:
    engine = _engine(url)
    try:
        with engine.begin() as connection:
            for schema in sorted({t.schema for md in metadata for t in md.tables.values() if t.schema} - {"public"}):
                connection.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {_quote(schema)}")
            for md in metadata:
                md.create_all(connection)
    finally:
        engine.dispose()


def _sync_url(config_url: str, database: str) -> Any:
    """The project's URL (the driver env.py uses, pointed at our server) for ``database``; an
    async driver is swapped for psycopg: ``create_all`` needs a synchronous engine."""
    from sqlalchemy.engine import make_url

    url = make_url(config_url).set(database=database)
    if url.get_dialect().is_async:
        url = url.set(drivername="postgresql+psycopg")
    return url


def _engine(url: Any) -> Any:
    """An engine on exactly ``url``: connections made through ``creator`` skip the redirect (which
    would send any other database name to the proof's database); the server guard still runs."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    probe = create_engine(url, poolclass=NullPool)
    cargs, cparams = probe.dialect.create_connect_args(url)
    return create_engine(url, poolclass=NullPool, creator=lambda: probe.dialect.connect(*cargs, **cparams))


def _psycopg_execute(url: Any) -> tuple[Any, Callable[[str], Any]]:
    import psycopg

    from headcheck.db.urls import libpq_url

    conn = psycopg.connect(libpq_url(url.render_as_string(hide_password=False)), autocommit=True)

    def execute(sql: str) -> Any:
        cursor = conn.execute(sql.encode())
        return cursor.fetchall() if cursor.description is not None else []

    return conn, execute


def compare_models(capture: MetadataCapture, config_url: str, models_db: str, ignore: Sequence[str]) -> dict[str, Any]:
    """Create the captured models in the empty database ``models_db`` and compare both schemas.
    Returns the ``models`` event: ``skipped`` (why not compared), or ``error``, or ``drift`` (a
    list of :func:`headcheck.db.model_diff.Drift` dicts)."""
    try:
        return _compare(capture, config_url, models_db, ignore)
    except Exception as exc:  # one line for the report, never a traceback
        first = (str(exc).strip().splitlines() or [""])[0]
        return {"error": f"the model comparison failed: {type(exc).__name__}: {first}"}


def _compare(capture: MetadataCapture, config_url: str, models_db: str, ignore: Sequence[str]) -> dict[str, Any]:
    if not capture.metadata:
        return {"skipped": "env.py passes no target_metadata to context.configure()"}
    if not any(md.tables for md in capture.metadata):  # MetaData() as a placeholder: nothing to compare
        return {"skipped": "the target_metadata env.py passes declares no tables"}
    if capture.several:
        return {
            "skipped": "env.py passes different target_metadata for different databases; the model "
            "comparison covers one database"
        }
    migrations_url = _sync_url(config_url, _database(config_url))
    models_url = _sync_url(config_url, models_db)
    main_conn, main_execute = _psycopg_execute(migrations_url)
    models_conn, models_execute = _psycopg_execute(models_url)
    try:
        migrated = snapshot.take(main_execute, capture.version_table)
        built = capture.build if capture.target is not None and capture.target[1] == models_db else None
        error = built.wait() if built is not None else RuntimeError("not built yet")
        if error is not None:
            # the migrations' schemas and extensions first: types and functions the models may use
            for schema in sorted(set(migrated["schemas"]) - {"public"}):
                models_execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(schema)}")
            for extension in migrated["extensions"]:
                with contextlib.suppress(Exception):
                    models_execute(f"CREATE EXTENSION IF NOT EXISTS {_quote(extension)}")
            try:
                _create_all(models_url, capture.metadata)
            except Exception as exc:
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                return {"error": f"metadata.create_all() failed in an empty database: {first}"}
        modelled = snapshot.take(models_execute, capture.version_table)
        extra_migrated = model_diff.catalog_extras(main_execute)
        extra_modelled = model_diff.catalog_extras(models_execute)
    finally:
        main_conn.close()
        models_conn.close()
    tables = {_key(t): t for md in capture.metadata for t in md.tables.values()}
    found = model_diff.compare(
        model_diff.Schema.read(migrated, extra_migrated),
        model_diff.Schema.read(modelled, extra_modelled),
        ignored=lambda table: model_diff.ignored(table, ignore) or not _included(capture, table, tables.get(table)),
    )
    where = _Locations(tables)
    return {"drift": [item._replace(path=p, line=n)._asdict() for item in found for p, n in [where.of(item)]]}


def _database(config_url: str) -> str:
    from sqlalchemy.engine import make_url

    return str(make_url(config_url).database)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _key(table: Any) -> str:
    return f"{table.schema or 'public'}.{table.name}"


def _included(capture: MetadataCapture, key: str, table: Any) -> bool:
    """env.py's own ``include_name``/``include_object`` say which tables autogenerate compares:
    the same ones are compared here (a hook that fails includes the table)."""
    schema, name = key.split(".", 1)
    schema_name = None if schema == "public" else schema
    try:
        if capture.include_name is not None and not capture.include_name(name, "table", {"schema_name": schema_name}):
            return False
        if capture.include_object is not None:
            if table is None:
                from sqlalchemy import MetaData, Table

                obj, reflected = Table(name, MetaData(), schema=schema_name), True
            else:
                obj, reflected = table, False
            if not capture.include_object(obj, name, "table", reflected, None):
                return False
    except Exception:
        return True
    return True


class _Locations:
    """The file and line where a model table (and its columns) are declared: the mapped class
    (``inspect.findsource``), else the module holding the Table object."""

    def __init__(self, tables: dict[str, Any]) -> None:
        self.tables = tables
        self.cache: dict[str, tuple[str | None, int | None, dict[str, int]]] = {}

    def of(self, item: model_diff.Drift) -> tuple[str | None, int | None]:
        table = item.table if item.table in self.tables else None
        if table is None and item.kind == "enum":
            table = self._table_using(item.table)
        if table is None:
            return None, None
        path, line, columns = self._table(table)
        if item.kind in ("column", "default") and item.name in columns:
            return path, columns[item.name]
        return path, line

    def _table_using(self, enum: str) -> str | None:
        for key, table in self.tables.items():
            for column in table.columns:
                if str(getattr(column.type, "name", "") or "") == enum.split(".", 1)[-1]:
                    return key
        return None

    def _table(self, key: str) -> tuple[str | None, int | None, dict[str, int]]:
        if key not in self.cache:
            try:
                self.cache[key] = self._find(self.tables[key])
            except Exception:  # best effort: a finding without a line is still a finding
                self.cache[key] = (None, None, {})
        return self.cache[key]

    def _find(self, table: Any) -> tuple[str | None, int | None, dict[str, int]]:
        cls, attributes = _mapped_class(table)
        if cls is not None:
            path = inspect.getsourcefile(cls)
            lines, start = inspect.findsource(cls)
            body = _block(lines, start)
            columns = {}
            for column_name, attribute in attributes.items():
                pattern = re.compile(rf"^\s*{re.escape(attribute)}\s*[:=]")
                for offset, text in enumerate(body):
                    if pattern.match(text):
                        columns[column_name] = start + offset + 1
                        break
            return path, start + 1, columns
        return _core_table(table)


def _block(lines: Sequence[str], start: int) -> list[str]:
    """The lines of the class statement starting at ``start`` (up to the next line as indented)."""
    first = lines[start]
    indent = len(first) - len(first.lstrip())
    out = [first]
    for text in lines[start + 1 :]:
        if text.strip() and len(text) - len(text.lstrip()) <= indent and not text.lstrip().startswith(")"):
            break
        out.append(text)
    return out


def _mapped_class(table: Any) -> tuple[Any, dict[str, str]]:
    """The class mapped to ``table`` and its attribute names by column name, or (None, {})."""
    try:
        from sqlalchemy.orm import mapperlib
    except ImportError:
        return None, {}
    for registry in list(mapperlib._all_registries()):  # noqa: SLF001 -- SQLAlchemy has no public list of the live registries
        for mapper in list(registry.mappers):
            if mapper.local_table is table:
                attributes = {}
                for column in table.columns:
                    try:
                        attributes[column.name] = mapper.get_property_by_column(column).key
                    except Exception:
                        continue
                return mapper.class_, attributes
    return None, {}


def _core_table(table: Any) -> tuple[str | None, int | None, dict[str, int]]:
    """A ``Table(...)`` bound to a module global of one of the project's modules."""
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if not path or "site-packages" in path or "dist-packages" in path:
            continue
        if not any(value is table for value in list(vars(module).values())):
            continue
        with open(path, encoding="utf-8", errors="replace") as source:
            lines = source.read().splitlines()
        name = re.escape(table.name)
        found = _first(lines, rf"Table\(\s*['\"]{name}['\"]", rf"['\"]{name}['\"]")
        if found is None:
            return os.path.abspath(path), None, {}
        columns = {}
        for column in table.columns:
            at = _first(lines[found:], rf"Column\(\s*['\"]{re.escape(column.name)}['\"]")
            if at is not None:
                columns[column.name] = found + at + 1
        return os.path.abspath(path), found + 1, columns
    return None, None, {}


def _first(lines: Iterable[str], *patterns: str) -> int | None:
    text = list(lines)
    for pattern in patterns:
        regex = re.compile(pattern)
        for k, line in enumerate(text):
            if regex.search(line):
                return k
    return None
