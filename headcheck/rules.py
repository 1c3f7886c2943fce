"""The rule catalogue: stable codes, names, severities and documentation.

A code never changes meaning. Text, JSON, GitHub annotations, SARIF rules and the README
table are all generated from this one list (``python -m headcheck.rules`` prints the table;
a test fails when the README drifts).
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["POSTGRES_ONLY", "RULES", "Rule", "markdown_table"]


class Rule(NamedTuple):
    code: str
    name: str
    severity: str  # "error" or "warning"
    summary: str  # what it detects
    why: str  # why it breaks deploys
    fix: str  # what to do
    example: str = ""  # a revision line that triggers it (docs/production.md shows each with its fix)


_RULES = (
    Rule(
        "HC101",
        "multiple-heads",
        "error",
        "More heads than the policy allows (one, unless each head has its own branch label).",
        "`alembic upgrade head` and `alembic revision` fail with 'Multiple head revisions are present'.",
        "Run `headcheck merge` to add a merge revision, or point one branch's down_revision at the other head (`headcheck rebase REV --onto HEAD`).",
    ),
    Rule(
        "HC102",
        "dangling-down-revision",
        "error",
        "down_revision names a revision that no loaded file defines.",
        "Alembic warns 'Revision X referenced from Y is not present' and every command dies with KeyError.",
        "Set down_revision to an existing revision id (full id, not a prefix or file name).",
    ),
    Rule(
        "HC103",
        "dangling-depends-on",
        "error",
        "depends_on names neither a revision id nor a declared branch label.",
        "Every Alembic command dies with a bare KeyError.",
        "Use a full revision id or a declared branch label in depends_on.",
    ),
    Rule(
        "HC104",
        "down-revision-is-label",
        "error",
        "down_revision names a branch label instead of a revision id.",
        "Alembic dies with a bare KeyError during cycle detection.",
        "Replace the label with the id of the revision the branch should continue from.",
    ),
    Rule(
        "HC105",
        "cycle",
        "error",
        "down_revision links form a cycle (or revisions hang off one).",
        "Alembic raises 'Cycle is detected in revisions (...)'.",
        "Break the cycle: one revision of the loop must point at an older revision.",
    ),
    Rule(
        "HC106",
        "dependency-cycle",
        "error",
        "depends_on links (with down_revision) form a cycle, or point at a descendant.",
        "Alembic raises 'Dependency cycle is detected in revisions (...)'.",
        "Make depends_on point only at revisions that are not descendants of this one.",
    ),
    Rule(
        "HC107",
        "duplicate-revision",
        "error",
        "Two files declare the same revision id.",
        "Alembic keeps the later file, warns, and reports a phantom head; history commands fail.",
        "Give one of the files a new unique revision id (and update whatever revises it).",
    ),
    Rule(
        "HC108",
        "self-loop",
        "error",
        "A revision names itself in down_revision.",
        "Alembic raises 'Self-loop is detected in revisions (...)'.",
        "Set down_revision to the revision this one really follows.",
    ),
    Rule(
        "HC109",
        "depends-on-self",
        "error",
        "A revision names itself in depends_on.",
        "Alembic raises 'Dependency self-loop is detected in revisions (...)'.",
        "Remove the revision's own id from depends_on.",
    ),
    Rule(
        "HC110",
        "illegal-revision-id",
        "error",
        "The revision id contains one of the characters @ - + :.",
        "Alembic raises 'Character(s) ... not allowed in revision identifier'.",
        "Use an id made of letters, digits and underscores.",
    ),
    Rule(
        "HC111",
        "reserved-revision-id",
        "error",
        "The revision id is a symbolic name (head, heads, base, current).",
        "Alembic loads it but resolves the symbolic name instead, so the revision cannot be targeted.",
        "Use another revision id.",
    ),
    Rule(
        "HC112",
        "branch-label-collision",
        "error",
        "A branch label is already a revision id or another revision's label.",
        "Alembic raises 'Branch name ... already used by revision ...'.",
        "Rename the branch label.",
    ),
    Rule(
        "HC201",
        "syntax-error",
        "error",
        "A revision file does not parse.",
        "Alembic executes every revision file; a syntax error kills every command.",
        "Fix the syntax error (or move the file out of the versions folder).",
    ),
    Rule(
        "HC202",
        "missing-revision",
        "error",
        "A .py file in a versions folder has no `revision` and its name is not a hex id.",
        "Alembic raises 'Could not determine revision id from filename'.",
        "Add `revision = '<id>'`, or move helper modules out of the versions folder.",
    ),
    Rule(
        "HC203",
        "missing-down-revision",
        "error",
        "A revision file has no `down_revision` binding.",
        "Alembic dies with AttributeError: module has no attribute 'down_revision'.",
        "Add `down_revision = '<parent id>'` (or `None` for a base), or move the file out.",
    ),
    Rule(
        "HC204",
        "unreadable-file",
        "error",
        "A revision file cannot be read (permissions, broken link, not a file).",
        "Alembic cannot load the environment.",
        "Fix the file's permissions or remove it from the versions folder.",
    ),
    Rule(
        "HC205",
        "dynamic-value",
        "error",
        "revision, down_revision, branch_labels or depends_on is not a literal.",
        "headcheck does not execute revision files, so the value cannot be verified statically.",
        "Write the value as a literal string, tuple or None (ignore HC205 to accept the risk).",
    ),
    Rule(
        "HC206",
        "invalid-value-type",
        "error",
        "A revision attribute has the wrong type (an int id, None inside a tuple, ...).",
        "Alembic dies with TypeError while loading the revision.",
        "Use strings, a tuple of strings or None.",
    ),
    Rule(
        "HC207",
        "unverified-verdict",
        "warning",
        "branch_labels or depends_on of a revision is unknown (HC205), so the checks that depend on it were not made.",
        "The heads policy, depends_on references, label collisions or dependency cycles may be broken without a finding.",
        "Write the value as a literal, or give it in [tool.headcheck] constants.",
    ),
    Rule(
        "HC301",
        "revises-mismatch",
        "warning",
        "The docstring's `Revises:` line disagrees with down_revision.",
        "Alembic follows down_revision; the docstring misleads whoever reads the file.",
        "Update the `Revises:` line to match down_revision.",
    ),
    Rule(
        "HC302",
        "ignored-subfolder",
        "warning",
        "A subfolder of a versions folder holds .py files but recursive_version_locations is off.",
        "Alembic silently ignores those revisions; their children dangle or they never run.",
        "Set `recursive_version_locations = true` or move the files up.",
    ),
    Rule(
        "HC303",
        "loaded-twice",
        "warning",
        "The same file is reached twice (overlapping version_locations or a symlink).",
        "Alembic warns 'File ... loaded twice! ignoring.'",
        "Make version_locations unique.",
    ),
    Rule(
        "HC401",
        "no-script-location",
        "error",
        "The selected config section has no script_location.",
        "Alembic raises 'No 'script_location' key found in configuration.'",
        "Add script_location to the section, or pick the right section with --name.",
    ),
    Rule(
        "HC402",
        "missing-script-location",
        "error",
        "script_location does not exist (or is a package resource that cannot be found statically).",
        "Alembic raises 'Path doesn't exist: ...'.",
        "Fix script_location (relative paths resolve against the config file's folder).",
    ),
    Rule(
        "HC403",
        "bad-path-separator",
        "error",
        "path_separator is not one of space, newline, os, ':' or ';'.",
        "Alembic raises ValueError while reading version_locations.",
        "Set `path_separator = os`.",
    ),
    Rule(
        "HC404",
        "bad-toml-value",
        "error",
        "A [tool.alembic] value has the wrong type (a string where a boolean is needed, ...).",
        "Alembic raises 'boolean value expected for TOML parameter' or 'Incorrect TOML format'.",
        "Use a TOML boolean (true/false) or the documented type.",
    ),
    Rule(
        "HC405",
        "missing-version-location",
        "error",
        "A configured version location does not exist.",
        "Alembic silently drops it: its revisions vanish from the graph.",
        "Fix the path in version_locations (and path_separator).",
    ),
    Rule(
        "HC406",
        "sourceless-unsupported",
        "error",
        "sourceless = true: revisions may exist only as .pyc files.",
        "headcheck reads source files only, so the graph it checks may be incomplete.",
        "Turn sourceless off in CI, or ignore HC406 if every revision has its .py source.",
    ),
    Rule(
        "HC407",
        "interpolation-error",
        "error",
        "A config value refers to an unknown %(name)s.",
        "Alembic dies with InterpolationMissingOptionError.",
        "Define the referenced key, or escape % as %%.",
    ),
    Rule(
        "HC501",
        "applied-revision-edited",
        "error",
        "With --base REF: a revision that exists on REF was edited by the change (code, not just comments or formatting).",
        "Databases that already applied it never run the new code, so environments silently diverge.",
        "Revert the edit and put the change in a new revision (or pass --allow-history-edits).",
    ),
    Rule(
        "HC502",
        "applied-revision-deleted",
        "error",
        "With --base REF: a revision that exists on REF (and at the merge base) was deleted by the change.",
        'Databases stamped with it fail with "Can\'t locate revision identified by ...".',
        "Restore the file from REF (or pass --allow-history-edits).",
    ),
    Rule(
        "HC503",
        "applied-revision-reparented",
        "error",
        "With --base REF: the change altered down_revision of a revision that exists on REF.",
        "Databases already past it would skip or repeat migrations; Alembic cannot tell.",
        "Restore its down_revision; re-parent your own new revisions instead (`headcheck rebase --base REF`).",
    ),
    Rule(
        "HC601",
        "blocking-lock",
        "warning",
        "Observed: a revision's statement takes a lock that blocks reads or writes (ACCESS EXCLUSIVE, EXCLUSIVE, SHARE ROW EXCLUSIVE, SHARE) on a table that existed before it.",
        "Every query on the table waits until the migration's transaction commits; on a busy table requests pile up and time out.",
        "Keep the locking statement short and alone in its transaction, set a lock_timeout and retry; split data changes from schema changes.",
        'op.add_column("users", sa.Column("nickname", sa.Text()))',
    ),
    Rule(
        "HC602",
        "table-rewrite",
        "warning",
        "Observed: a statement rewrites a table or index that existed before the revision (its relfilenode changed): a column type change, a volatile default, SET TABLESPACE, ...",
        "The whole table is copied under an ACCESS EXCLUSIVE lock: reads and writes stop for as long as the copy takes.",
        "Add a new column, backfill it in batches, then switch readers and drop the old one; use a constant default (PostgreSQL 11+ stores it without a rewrite).",
        'op.alter_column("users", "id", type_=sa.BigInteger())',
    ),
    Rule(
        "HC603",
        "index-without-concurrently",
        "warning",
        "Observed: CREATE INDEX or DROP INDEX without CONCURRENTLY on a table that existed before the revision.",
        "CREATE INDEX blocks every write to the table for the whole build; DROP INDEX blocks reads and writes.",
        "Use op.create_index(..., postgresql_concurrently=True) (or op.drop_index(...)) inside `with op.get_context().autocommit_block():`.",
        'op.create_index("ix_users_email", "users", ["email"])',
    ),
    Rule(
        "HC604",
        "constraint-validated-under-lock",
        "warning",
        "Observed: a FOREIGN KEY or CHECK constraint is added to an existing table and validated in the same statement.",
        "Validation scans the whole table while the lock blocks writes (and reads, for CHECK).",
        "Add the constraint NOT VALID (postgresql_not_valid=True, or op.execute), then `ALTER TABLE ... VALIDATE CONSTRAINT` in a later statement or revision.",
        'op.create_foreign_key("fk_orders_user", "orders", "users", ["user_id"], ["id"])',
    ),
    Rule(
        "HC605",
        "set-not-null-scan",
        "warning",
        "Observed: ALTER COLUMN ... SET NOT NULL on a table that existed before the revision.",
        "PostgreSQL scans every row to check it under an ACCESS EXCLUSIVE lock.",
        "Add `CHECK (col IS NOT NULL) NOT VALID`, VALIDATE it, then SET NOT NULL (PostgreSQL 12+ skips the scan) and drop the check.",
        'op.alter_column("users", "email", nullable=False)',
    ),
    Rule(
        "HC606",
        "no-lock-timeout",
        "warning",
        "Observed: a lock that blocks reads or writes on an existing table is taken while lock_timeout is 0 (no limit).",
        "While the statement waits for a long-running query to finish, every other query on the table queues behind it: a full outage.",
        "Set a lock_timeout for the migration (in env.py: `SET lock_timeout = '5s'` on the connection, or op.execute in the revision) and retry on failure.",
        'op.add_column("users", sa.Column("nickname", sa.Text()))  # with lock_timeout = 0',
    ),
    Rule(
        "HC607",
        "lock-held-across-statements",
        "warning",
        "Observed: a lock that blocks reads or writes on an existing table stays held while later statements run, later revisions included (one transaction for several revisions, transaction_per_migration off).",
        "The table is blocked for the duration of everything that follows, not just the statement that needed the lock.",
        "Put the locking statement last, or in its own revision, and turn on transaction_per_migration in env.py.",
        'op.add_column("users", ...); op.execute("UPDATE users SET ...")',
    ),
    Rule(
        "HC611",
        "create-index-not-concurrently",
        "warning",
        "Static: op.create_index on a table the revision did not create, without postgresql_concurrently=True (not when sqlalchemy.url names another database than PostgreSQL).",
        "A plain CREATE INDEX blocks all writes to the table while the index builds.",
        "Pass postgresql_concurrently=True and run it inside `with op.get_context().autocommit_block():`.",
        'op.create_index("ix_users_email", "users", ["email"])',
    ),
    Rule(
        "HC612",
        "concurrently-in-transaction",
        "warning",
        "Static: postgresql_concurrently=True or CREATE/DROP INDEX CONCURRENTLY outside `with op.get_context().autocommit_block():` (not when sqlalchemy.url names another database than PostgreSQL).",
        "PostgreSQL refuses CONCURRENTLY inside a transaction block: the migration fails on deploy.",
        "Wrap the call in `with op.get_context().autocommit_block():`.",
        'op.create_index("ix", "users", ["email"], postgresql_concurrently=True)',
    ),
    Rule(
        "HC613",
        "empty-downgrade",
        "warning",
        "Static: downgrade() only passes while upgrade() changes the schema.",
        "`alembic downgrade` reports success and leaves the schema changed: a rollback silently does nothing.",
        "Write the inverse operations, or declare the revision irreversible by raising NotImplementedError in downgrade().",
        "def downgrade():\n    pass",
    ),
    Rule(
        "HC620",
        "squawk",
        "warning",
        "squawk (the PostgreSQL migration linter) reports a violation in the SQL a revision executed.",
        "squawk's rules flag statements that lock or break running applications; its help text says why.",
        "Follow squawk's help text for the named rule, or ignore it per revision.",
        'op.execute("ALTER TABLE users ADD COLUMN n serial")',
    ),
    Rule(
        "HC630",
        "fails-with-rows",
        "error",
        "Observed: a migration step fails when the tables hold rows (generated from the schema before it: NULLs, repeated values, edge values) and passes on the same tables emptied.",
        "Production tables are not empty: the deploy fails there (a NOT NULL column without a default, a unique constraint over repeated values, a failing cast, a foreign key over orphan rows, a data migration crashing on NULL).",
        "Make the step work on existing rows: add the column nullable or with a server_default, backfill, then tighten; clean the data before adding the constraint; handle NULL in the data migration.",
        'op.add_column("users", sa.Column("age", sa.Integer, nullable=False))',
    ),
    Rule(
        "HC631",
        "downgrade-loses-data",
        "warning",
        "Observed: a checked downgrade drops a column or table holding values that existed before the upgrade (moved there by the upgrade, or never touched by it) and are found nowhere after the downgrade.",
        "Rolling back deletes production data that the upgrade kept: the values cannot be recovered after the downgrade.",
        "Copy the values back (op.execute UPDATE ... FROM ...) before dropping, or declare the revision irreversible (raise NotImplementedError in downgrade()).",
        'op.drop_column("users", "full_name")  # after the upgrade moved "name" into it',
    ),
    Rule(
        "HC640",
        "model-not-migrated",
        "error",
        "Observed: the models (env.py's target_metadata, created with metadata.create_all) have a table, column, default, constraint, index or enum value that the migrations, upgraded to the heads, do not create.",
        "The application expects a schema the deploy does not build: queries fail on the missing object, and the next `alembic revision --autogenerate` picks up the change unreviewed.",
        "Add a migration that creates it (alembic revision --autogenerate, then read the script), or remove it from the model.",
        "email = mapped_column(sa.String, unique=True)  # no migration creates the unique constraint",
    ),
    Rule(
        "HC641",
        "migration-not-modelled",
        "error",
        "Observed: the migrations, upgraded to the heads, create a table, column, default, constraint, index or enum value that the models do not declare.",
        "The models no longer describe the database: `alembic revision --autogenerate` proposes to drop it, and inserts through the ORM miss what it requires.",
        "Declare it in the model, or drop it in a new migration; list objects the models do not own in [tool.headcheck] models-ignore.",
        'op.add_column("users", sa.Column("legacy", sa.Integer))  # not in the User model',
    ),
    Rule(
        "HC642",
        "model-differs-from-migrations",
        "error",
        "Observed: a column's type, NOT NULL or identity, a default's value, or an enum's value order differs between the models and the migrations (as PostgreSQL renders both).",
        "The application writes values the deployed schema refuses or changes (a NOT NULL the model leaves empty, a shorter varchar, another default).",
        "Make them agree: change the model, or alter the object in a new migration.",
        'op.add_column("users", sa.Column("age", sa.BigInteger))  # the model says Integer',
    ),
)

RULES: dict[str, Rule] = {rule.code: rule for rule in _RULES}
# static rules about PostgreSQL's own syntax (CONCURRENTLY): not reported for an environment whose
# sqlalchemy.url names another database (headcheck.dialects)
POSTGRES_ONLY = frozenset({"HC611", "HC612"})


def markdown_table() -> str:
    lines = ["| code | name | severity | what it detects | fix |", "|---|---|---|---|---|"]
    for rule in _RULES:
        lines.append(f"| `{rule.code}` | {rule.name} | {rule.severity} | {rule.summary} | {rule.fix} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())
