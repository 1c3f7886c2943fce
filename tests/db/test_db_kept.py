"""headcheck.db.kept on a real PostgreSQL: the lock trace's and the rows' catalog queries through
temporary PL/pgSQL functions give the plain queries' answers, are created once per session, are
never called once gone, and fall back to the plain queries where no function can be created."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from headcheck.db import rows, trace
from headcheck.db.kept import Kept, Query
from headcheck.db.server import Server, create_database
from headcheck.db.urls import libpq_url
from tests.db.harness import needs_postgres
from tests.db.test_db_rows import SCHEMA, execute

pytestmark = needs_postgres
QUERIES = (*trace.KEPT, *rows.KEPT)


@pytest.fixture
def db(server: Server) -> str:
    name = "kept_" + secrets.token_hex(6)
    create_database(server, name)
    return name


@pytest.fixture
def connection(server: Server, db: str) -> Iterator[Any]:
    import psycopg

    with psycopg.connect(libpq_url(server.url(db))) as conn:
        yield conn


def kept_for(conn: Any) -> Kept:
    return Kept(QUERIES, lambda: conn)


def functions(run: Any) -> int:
    return int(
        run(
            "SELECT count(*) FROM pg_proc WHERE proname LIKE 'headcheck\\_kept\\_%' AND pg_function_is_visible(oid) IS NOT NULL AND pronamespace = pg_my_temp_schema()"
        )[0][0]
    )


def test_kept_queries_answer_as_the_plain_ones_and_are_created_once_per_session(connection: Any) -> None:
    run = execute(connection)
    run(SCHEMA)
    kept = kept_for(connection)
    oids = [oid for oid, _, name in rows.user_tables(run, "alembic_version") if name == "person"]
    assert oids
    literals = ("NULL", "'{" + ",".join(map(str, oids)) + "}'", "'{}'")
    for query in QUERIES:
        for literal in literals if query.argument else ("NULL",):
            assert kept.run(run, query, literal) == run(query.plain(literal)), query.sql[:60]
    assert kept.creations == 1
    assert functions(run) == len(QUERIES)
    # (the catalog read through its function: only the tables asked for)
    assert [t.name for t in rows.read_catalog(run, "alembic_version", oids, kept)] == ["person"]
    assert rows.read_catalog(run, "alembic_version", [], kept) == []
    connection.commit()
    for query in QUERIES:
        kept.run(run, query)
    assert kept.creations == 1  # (the same connection: not checked again)
    assert kept.known is connection


def test_a_function_rolled_back_with_its_transaction_is_made_again_not_called(connection: Any) -> None:
    run = execute(connection)
    kept = kept_for(connection)
    before = kept.run(run, trace._BEGIN)  # noqa: SLF001 -- the module's own query
    connection.rollback()  # the functions go with the transaction that created them
    assert functions(run) == 0
    kept.forget()
    again = kept.run(run, trace._BEGIN)  # noqa: SLF001
    assert (again[0][0], again[0][2]) == (before[0][0], before[0][2])  # (the relations, lock_timeout)
    assert kept.creations == 2
    assert run("SELECT 1") == [(1,)]  # (the transaction was never aborted)


def test_without_the_temporary_privilege_the_plain_queries_run(server: Server, db: str) -> None:
    import psycopg

    role, password = "kept_" + secrets.token_hex(4), secrets.token_urlsafe(12)
    with psycopg.connect(libpq_url(server.url(db)), autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        admin.execute(f"REVOKE TEMPORARY ON DATABASE {db} FROM PUBLIC")
        admin.execute("CREATE TABLE t (id integer PRIMARY KEY, name text NOT NULL)")
    try:
        conninfo = f"host={server.host} port={server.port} user={role} password={password} dbname={db}"
        with psycopg.connect(conninfo) as conn:
            run = execute(conn)
            kept = kept_for(conn)
            assert [name for _, _, name in rows.user_tables(run, "alembic_version", kept)] == ["t"]
            [table] = rows.read_catalog(run, "alembic_version", None, kept)
            assert [c.name for c in table.columns] == ["id", "name"]
            assert kept.ready == frozenset()
            assert kept.creations == 0  # (not even tried: DO would fail)
            assert run("SELECT 1") == [(1,)]
            conn.rollback()
    finally:
        with psycopg.connect(libpq_url(server.url(db)), autocommit=True) as admin:
            admin.execute(f"DROP OWNED BY {role}")
            admin.execute(f"DROP ROLE {role}")


def test_a_query_with_an_argument_names_its_type_for_to_regprocedure() -> None:
    query = Query("SELECT 1 WHERE hc_arg IS NULL", "hc_one integer", "hc_arg oid[]")
    assert query.signature == f"pg_temp.{query.name}(oid[])"
    assert query.call("NULL") == f"SELECT * FROM pg_temp.{query.name}(NULL)"
    assert Query("SELECT 1", "hc_one integer").signature.endswith("()")


def test_another_connection_is_checked_again(server: Server, db: str, connection: Any) -> None:
    import psycopg

    current = [connection]
    kept = Kept(QUERIES, lambda: current[0])
    kept.run(execute(connection), rows._SIGNATURE)  # noqa: SLF001 -- the module's own query
    with psycopg.connect(libpq_url(server.url(db))) as other:  # (an env.py that reconnected)
        current[0] = other
        run = execute(other)
        assert kept.run(run, rows._SIGNATURE) == run(rows._SIGNATURE.sql)  # noqa: SLF001
        assert kept.creations == 2
        assert functions(run) == len(QUERIES)


def test_a_rollback_sent_through_the_watching_executor_forgets(connection: Any) -> None:
    run = execute(connection)
    run.several = True
    kept = kept_for(connection)
    watched = kept.watching(run)
    assert getattr(watched, "several", False)  # (what rows.py reads of the executor)
    watched("SAVEPOINT s")
    kept.run(watched, rows._SIGNATURE)  # noqa: SLF001 -- created inside the savepoint
    watched("ROLLBACK TO SAVEPOINT s")
    assert functions(run) == 0
    assert kept.run(watched, rows._SIGNATURE) == run(rows._SIGNATURE.sql)  # noqa: SLF001
    assert kept.creations == 2


def test_a_rollback_of_the_sqlalchemy_connection_forgets(server: Server, db: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(server.url(db))
    try:
        with engine.connect() as conn:
            dbapi = conn.connection.dbapi_connection
            kept = Kept(QUERIES, lambda: dbapi)
            run = execute(dbapi)
            tracer = trace.Tracer(run, "alembic_version", kept)
            tracer.install(conn)
            conn.exec_driver_sql("SELECT 1")
            kept.run(run, rows._SIGNATURE)  # noqa: SLF001 -- the module's own query
            assert kept.known is dbapi
            conn.rollback()  # (no SQL statement a listener would see)
            assert kept.known is None
            assert kept.run(run, rows._SIGNATURE) == run(rows._SIGNATURE.sql)  # noqa: SLF001
    finally:
        engine.dispose()
