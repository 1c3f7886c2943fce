"""headcheck.db.snapshot on a real server: what a snapshot sees, and how differences read."""

from __future__ import annotations

import hashlib

import psycopg

from headcheck.db.server import Server, create_database
from headcheck.db.snapshot import diff, diff_lines, take
from tests.db.harness import needs_postgres

pytestmark = needs_postgres


def test_every_kind_of_object_shows_up_and_the_version_table_does_not(server: Server) -> None:
    create_database(server, "snap")
    with psycopg.connect(server.conninfo("snap"), autocommit=True) as conn:

        def execute(sql: str) -> list[tuple[object, ...]]:
            return conn.execute(sql.encode()).fetchall()

        empty = take(execute)
        conn.execute("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)")
        assert take(execute) == empty
        conn.execute("CREATE SCHEMA extra")
        conn.execute("CREATE TYPE mood AS ENUM ('calm', 'angry')")
        conn.execute("CREATE DOMAIN positive AS integer CHECK (VALUE > 0)")
        conn.execute("CREATE TABLE t (id serial PRIMARY KEY, m mood NOT NULL, n positive DEFAULT 1)")
        conn.execute("CREATE INDEX ix_t_m ON t (m)")
        conn.execute("CREATE VIEW v AS SELECT id FROM t")
        conn.execute("CREATE FUNCTION f(x int) RETURNS int LANGUAGE sql AS 'SELECT x + 1'")
        conn.execute("CREATE FUNCTION trg() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'")
        conn.execute("CREATE TRIGGER t_trg BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION trg()")
        full = take(execute)
    lines = diff_lines(diff(empty, full))
    assert all(line.startswith("+ ") for line in lines)
    text = "\n".join(lines)
    for expected in (
        "+ schema extra",
        "+ type public.mood enum('calm', 'angry')",
        "+ type public.positive domain integer CHECK ((VALUE > 0))",
        "+ table public.t",
        "+ column public.t.m mood NOT NULL",
        "+ column public.t.n positive DEFAULT 1",
        "+ constraint public.t t_pkey PRIMARY KEY (id)",
        "+ index CREATE INDEX ix_t_m ON public.t USING btree (m)",
        "+ sequence public.t_id_seq integer start 1 increment 1",
        "+ function public.f(x integer) returns integer",
        "+ trigger CREATE TRIGGER t_trg BEFORE INSERT ON public.t FOR EACH ROW EXECUTE FUNCTION trg()",
    ):
        assert expected in text, expected
    assert any(line.startswith("+ view public.v ") for line in lines)
    assert diff(full, empty)["types"]["missing"]  # the reverse direction reads as missing


def test_extension_members_stay_out_and_every_user_schema_is_read(server: Server) -> None:
    """The snapshot reads user objects through their OIDs (all >= 16384, FirstNormalObjectId): an
    extension's own types and functions are left out, a user's objects in any schema are not."""
    create_database(server, "snap_ext")
    with psycopg.connect(server.conninfo("snap_ext"), autocommit=True) as conn:

        def execute(sql: str) -> list[tuple[object, ...]]:
            return conn.execute(sql.encode()).fetchall()

        empty = take(execute)
        conn.execute("CREATE EXTENSION citext")
        with_extension = take(execute)
        assert diff_lines(diff(empty, with_extension)) == ["+ extension citext"]
        conn.execute("CREATE SCHEMA billing")
        conn.execute("CREATE TABLE billing.invoice (id bigserial PRIMARY KEY, email citext NOT NULL UNIQUE)")
        conn.execute("CREATE INDEX ix_email_desc ON billing.invoice (email DESC) WHERE id > 10")
        conn.execute("CREATE FUNCTION billing.total() RETURNS bigint LANGUAGE sql AS 'SELECT 1::bigint'")
        full = take(execute)
    assert diff_lines(diff(with_extension, full)) == [
        "+ schema billing",
        "+ table billing.invoice",
        "+ column billing.invoice.email citext NOT NULL",
        "+ column billing.invoice.id bigint NOT NULL DEFAULT nextval('billing.invoice_id_seq'::regclass)",
        "+ constraint billing.invoice invoice_email_key UNIQUE (email)",
        "+ constraint billing.invoice invoice_pkey PRIMARY KEY (id)",
        "+ index CREATE INDEX ix_email_desc ON billing.invoice USING btree (email DESC) WHERE (id > 10)",
        "+ index CREATE UNIQUE INDEX invoice_email_key ON billing.invoice USING btree (email)",
        "+ index CREATE UNIQUE INDEX invoice_pkey ON billing.invoice USING btree (id)",
        "+ sequence billing.invoice_id_seq bigint start 1 increment 1",
        "+ function billing.total() returns bigint " + hashlib.md5(b"SELECT 1::bigint").hexdigest(),
    ]


def test_index_lines_are_exactly_pg_get_indexdef(server: Server) -> None:
    """Common indexes get their line built from the catalogs (cheaper than pg_get_indexdef);
    the text must be the server's own for every kind of index, built or not."""
    create_database(server, "snap_idx")
    statements = [
        "CREATE EXTENSION citext",
        'CREATE SCHEMA "Odd Schema"',
        "CREATE TYPE mood AS ENUM ('calm', 'angry')",
        "CREATE DOMAIN code AS varchar(8)",
        'CREATE TABLE "Odd Schema"."T" ("Id" serial PRIMARY KEY, "Name" varchar(50), body text, n bigint,'
        " u uuid UNIQUE, j jsonb, ts timestamp, m mood, c code, e citext, v tsvector)",
        'CREATE INDEX "Ix Name" ON "Odd Schema"."T" ("Name")',
        'CREATE INDEX ix_hash ON "Odd Schema"."T" USING hash ("Name")',
        'CREATE INDEX ix_hash_int ON "Odd Schema"."T" USING hash (n)',
        'CREATE INDEX ix_body ON "Odd Schema"."T" (body)',
        'CREATE INDEX ix_body_c ON "Odd Schema"."T" (body COLLATE "C")',
        'CREATE INDEX ix_body_pattern ON "Odd Schema"."T" (body text_pattern_ops)',
        'CREATE INDEX ix_name_pattern ON "Odd Schema"."T" ("Name" varchar_pattern_ops)',
        'CREATE INDEX ix_desc ON "Odd Schema"."T" (n DESC NULLS LAST)',
        'CREATE INDEX ix_nulls ON "Odd Schema"."T" (n NULLS FIRST)',
        'CREATE INDEX ix_multi ON "Odd Schema"."T" (n, body)',
        'CREATE UNIQUE INDEX ix_unique ON "Odd Schema"."T" (ts)',
        'CREATE INDEX ix_gin ON "Odd Schema"."T" USING gin (j)',
        'CREATE INDEX ix_gin_path ON "Odd Schema"."T" USING gin (j jsonb_path_ops)',
        'CREATE INDEX ix_brin ON "Odd Schema"."T" USING brin (ts)',
        'CREATE INDEX ix_gist ON "Odd Schema"."T" USING gist (v)',
        'CREATE INDEX ix_expr ON "Odd Schema"."T" (lower(body))',
        'CREATE INDEX ix_partial ON "Odd Schema"."T" (n) WHERE n > 0',
        'CREATE INDEX ix_include ON "Odd Schema"."T" (n) INCLUDE (body)',
        'CREATE INDEX ix_fill ON "Odd Schema"."T" (n) WITH (fillfactor = 70)',
        'CREATE INDEX ix_enum ON "Odd Schema"."T" (m)',
        'CREATE INDEX ix_domain ON "Odd Schema"."T" (c)',
        'CREATE INDEX ix_citext ON "Odd Schema"."T" (e)',
        "CREATE TABLE parted (k int, PRIMARY KEY (k)) PARTITION BY RANGE (k)",
        "CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (10)",
    ]
    with psycopg.connect(server.conninfo("snap_idx"), autocommit=True) as conn:
        if int(str(conn.execute("SHOW server_version_num").fetchall()[0][0])) >= 150000:
            statements.append('CREATE UNIQUE INDEX ix_nnd ON "Odd Schema"."T" (body) NULLS NOT DISTINCT')
        for statement in statements:
            conn.execute(statement.encode())
        expected = sorted(
            str(row[0])
            for row in conn.execute(
                "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid"
                " WHERE c.relnamespace <> 'pg_catalog'::regnamespace AND c.relnamespace <> 'pg_toast'::regnamespace"
            )
        )
        lines = take(lambda sql: conn.execute(sql.encode()).fetchall())["indexes"]
    assert len(expected) > 25
    assert list(lines) == expected


def test_a_kept_plan_reads_the_same_schema_and_never_breaks_the_transaction(server: Server) -> None:
    """``keep_plan``: the query runs through a temporary function whose plan PL/pgSQL keeps; it
    sees the transaction's own uncommitted DDL, is not part of the snapshot, survives a rollback
    (it is created again), and without the TEMP privilege the plain query runs instead."""
    create_database(server, "snap_plan")
    with psycopg.connect(server.conninfo("snap_plan")) as conn:

        def execute(sql: str) -> list[tuple[object, ...]]:
            cursor = conn.execute(sql.encode())
            return cursor.fetchall() if cursor.description is not None else []

        empty = take(execute, keep_plan=True)
        assert empty == take(execute)
        conn.execute("CREATE TABLE t (id serial PRIMARY KEY, name varchar(20))")
        conn.execute("CREATE INDEX ix_t_name ON t (name)")
        with_table = take(execute, keep_plan=True)
        assert with_table == take(execute) != empty
        conn.execute("DROP TABLE t")  # psycopg forgets its prepared statements here; PL/pgSQL does not
        assert take(execute, keep_plan=True) == empty
        conn.rollback()  # the function goes with the transaction that created it
        assert take(execute, keep_plan=True) == empty
        conn.execute("CREATE TABLE t (id int)")
        assert diff_lines(diff(empty, take(execute, keep_plan=True))) == [
            "+ table public.t",
            "+ column public.t.id integer",
        ]
        conn.commit()

        conn.execute(f"CREATE ROLE no_temp LOGIN PASSWORD '{server.password}'")
        conn.execute("REVOKE TEMPORARY ON DATABASE snap_plan FROM PUBLIC")
        conn.execute("GRANT USAGE ON SCHEMA public TO no_temp")
        conn.commit()
    with psycopg.connect(server.conninfo("snap_plan").replace("user=postgres", "user=no_temp")) as conn:
        conn.execute("SELECT 1")  # a transaction is open: a failing CREATE would abort it
        snap = take(execute, keep_plan=True)
        assert snap["tables"] == ("table public.t",)
        assert conn.execute("SELECT 2").fetchall() == [(2,)]


def test_diff_orders_any_backends_categories() -> None:
    """Other backends' snapshots have the same format, with categories PostgreSQL lacks."""
    before = {"tables": ("table main.a",), "routines": (), "events": ("e1",)}
    after = {"tables": ("table main.a", "table main.b"), "routines": ("r1",), "events": ()}
    assert list(diff(before, after)) == ["tables", "events", "routines"]
    assert diff_lines(diff(before, after)) == ["+ table main.b", "- event e1", "+ routine r1"]
