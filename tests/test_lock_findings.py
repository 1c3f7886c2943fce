"""headcheck.db.locks and the inference of headcheck.db.trace, on recorded traces (no server)."""

from __future__ import annotations

from pathlib import Path

from headcheck.db.locks import lock_findings, mode_name
from headcheck.db.trace import Statement, StepTrace, inferred_locks
from headcheck.inline_ignore import ignores_in

AEL = "AccessExclusiveLock"


def trace(
    revision: str, *statements: Statement, held: tuple[tuple[str, str], ...] = (), path: str | None = None
) -> StepTrace:
    return StepTrace("up", revision, path, True, statements, held)


def test_mode_names_read_like_the_postgresql_docs() -> None:
    assert mode_name(AEL) == "ACCESS EXCLUSIVE"
    assert mode_name("ShareRowExclusiveLock") == "SHARE ROW EXCLUSIVE"


def test_inferred_locks_name_the_target_and_the_referenced_table() -> None:
    assert inferred_locks("ALTER TABLE users ADD COLUMN x int") == [("users", AEL)]
    assert inferred_locks('CREATE INDEX ix ON "public"."users" (email)') == [("public.users", "ShareLock")]
    assert inferred_locks("CREATE INDEX CONCURRENTLY ix ON users (email)") == [("users", "ShareUpdateExclusiveLock")]
    assert inferred_locks("ALTER TABLE users VALIDATE CONSTRAINT fk") == [("users", "ShareUpdateExclusiveLock")]
    assert inferred_locks("ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY(u) REFERENCES users (id)") == [
        ("orders", "ShareRowExclusiveLock"),
        ("users", "ShareRowExclusiveLock"),
    ]
    assert inferred_locks("UPDATE users SET x = 1") == []


def test_findings_classify_the_statement_and_skip_weak_locks() -> None:
    statements = (
        Statement("CREATE INDEX ix ON users (email)", 0.1, 10, "0", (("public.users", "r", "ShareLock"),)),
        Statement("ALTER TABLE users ALTER COLUMN email SET NOT NULL", 0.1, 11, "0", (("public.users", "r", AEL),)),
        Statement(
            "ALTER TABLE users VALIDATE CONSTRAINT c",
            0.1,
            12,
            "0",
            (("public.users", "r", "ShareUpdateExclusiveLock"),),
        ),
        Statement("ALTER TABLE users ALTER COLUMN id TYPE bigint", 0.1, 13, "0", (), (("public.users", "r"),)),
    )
    found = {(f.code, f.line) for f in lock_findings([trace("r1", *statements)])}
    assert found == {("HC603", 10), ("HC606", 10), ("HC605", 11), ("HC602", 13)}


def test_a_project_lock_timeout_silences_hc606_and_ignore_lists_apply() -> None:
    statement = Statement("ALTER TABLE users ADD COLUMN x int", 0.1, 10, "5s", (("public.users", "r", AEL),))
    assert {f.code for f in lock_findings([trace("r1", statement)])} == {"HC601"}
    assert lock_findings([trace("r1", statement)], frozenset({"HC601"})) == []


def test_held_lock_follows_into_later_revisions_only_while_observed_held() -> None:
    lock = ("public.users", AEL)
    first = trace(
        "r1",
        Statement("ALTER TABLE users ADD COLUMN x int", 0.1, 10, "0", (("public.users", "r", AEL),), held=(lock,)),
        Statement("CREATE TABLE t (id int)", 0.1, 11),  # not observed: runs under the lock
    )
    second = trace("r2", Statement("CREATE TABLE u (id int)", 0.1, 5), held=(lock,))
    third = trace("r3", Statement("CREATE TABLE v (id int)", 0.1, 5))  # a commit in between: not held
    [held] = [f for f in lock_findings([first, second, third]) if f.code == "HC607"]
    assert "2 later statement(s)" in held.message
    assert "r2" in held.message
    assert "r3" not in held.message
    released = trace("r2", Statement("SELECT 1", 0.1, 5, "0", held=()), held=(lock,))
    assert not [f for f in lock_findings([first, released]) if f.code == "HC607" and "r2" in f.message]


def test_ignore_comments_by_line_and_by_file(tmp_path: Path) -> None:
    source = "# headcheck: ignore[HC606]\nimport x\n\ndef upgrade():\n    op.f()  # headcheck: ignore[HC601,hc603]\n"
    ignores = ignores_in(source)
    assert ignores.ignored("HC606", 99)
    assert ignores.ignored("HC601", 5)
    assert ignores.ignored("HC603", 5)
    assert not ignores.ignored("HC601", 4)
    assert not ignores.ignored("HC602", 5)
    revision = tmp_path / "r.py"
    revision.write_text(source)
    statement = Statement("ALTER TABLE users ADD COLUMN x int", 0.1, 5, "0", (("public.users", "r", AEL),))
    assert lock_findings([trace("r1", statement, path=str(revision))]) == []
