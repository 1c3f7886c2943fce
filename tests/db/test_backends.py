"""headcheck.db.backends: the registry, the choice by dialect, and what every backend module promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from headcheck.db import backends
from headcheck.db.backends import Backend, BackendError, choose, dialect_of, driver_of, get, names, with_driver


def test_every_module_is_a_backend_named_after_it() -> None:
    assert {"postgres", "sqlite"} <= set(names())
    for name in names():
        backend = get(name)
        assert isinstance(backend, Backend)
        assert backend.name == name
        assert backend.dialects
        assert all(d == d.lower() for d in backend.dialects)
        assert backend.default_driver in backend.drivers
        assert backend.implied_driver in backend.drivers


def test_adding_a_backend_is_adding_a_module(tmp_path: Path) -> None:
    """A module dropped into the package is listed, chosen by its dialect and by name; nothing else
    names it (run in a child: the package is not changed for the other tests)."""
    code = f"""
import shutil, sys, pathlib
import headcheck.db.backends as b
package = pathlib.Path({str(tmp_path)!r}) / "pkg"
shutil.copytree(pathlib.Path(b.__file__).parent, package)
(package / "firebird.py").write_text('''
from headcheck.db.backends import Backend
class Firebird(Backend):
    name = "firebird"
    label = "Firebird"
    dialects = ("firebird",)
    drivers = {{"fdb": "fdb"}}
    implied_driver = default_driver = "fdb"
    throwaway = create_database = recreate_databases = guard = refuse_nonempty = None
    snapshot = create_extra_database = None
BACKEND = Firebird()
''')
b.__path__[:] = [str(package)]
print(b.names(), b.choose(None, ["firebird+fdb://x/y"]).name, b.get("firebird").label)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "'firebird'" in done.stdout
    assert done.stdout.split(")")[1].split() == ["firebird", "Firebird"]


@pytest.mark.parametrize(
    ("urls", "expected"),
    [
        (["postgresql+asyncpg://u:p@h/db"], "postgres"),
        (["postgres://u:p@h/db"], "postgres"),
        (["sqlite:///app.db"], "sqlite"),
        (["SQLite+aiosqlite:///app.db"], "sqlite"),
        (["driver://user:pass@localhost/dbname"], "postgres"),  # alembic init's placeholder
        (["%(DB_URL)s"], "postgres"),  # not a URL statically
        ([], "postgres"),
        (["sqlite:///a.db", "sqlite:///b.db"], "sqlite"),
    ],
)
def test_the_default_backend_follows_the_projects_url(urls: list[str], expected: str) -> None:
    assert choose(None, urls).name == expected


def test_the_flag_wins_and_errors_are_one_line() -> None:
    assert choose("sqlite", ["postgresql://h/db"]).name == "sqlite"
    with pytest.raises(BackendError, match=r"unknown backend 'oracle'; choose one of: .*postgres.*sqlite"):
        choose("oracle")
    with pytest.raises(BackendError, match=r"different databases .*postgres, sqlite.*pass --backend"):
        choose(None, ["sqlite:///a.db", "postgresql://h/db"])


def test_url_parts() -> None:
    assert dialect_of("postgresql+psycopg://u:p@h/db") == "postgresql"
    assert dialect_of("not a url") is None
    assert driver_of("mysql+pymysql://h/db") == "pymysql"
    assert driver_of("mysql://h/db") is None
    assert with_driver("sqlite:////tmp/x.db", "aiosqlite") == "sqlite+aiosqlite:////tmp/x.db"
    assert with_driver("postgresql+asyncpg://u:p@h/db", "psycopg") == "postgresql+psycopg://u:p@h/db"


def test_project_driver_keeps_the_projects_own_when_installed() -> None:
    pg = get("postgres")
    assert backends.project_driver(pg, "postgresql://u:p@h/db") == "psycopg2"  # what SQLAlchemy implies
    assert backends.project_driver(pg, "postgresql+pg8000://u:p@h/db") == "pg8000"
    assert backends.project_driver(pg, "postgresql+nosuchdriver://h/db") == "psycopg"  # not installed
    assert backends.project_driver(pg, "sqlite:///x.db") == "psycopg"  # another database's URL
    assert backends.project_driver(get("sqlite"), "sqlite:///x.db") == "pysqlite"


def test_the_package_imports_only_the_standard_library() -> None:
    """``--backend`` and the default choice are made before any driver is needed."""
    code = (
        "import sys; import headcheck.db.backends as b; [b.get(n) for n in b.names()]; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'sqlalchemy', 'alembic', 'psycopg', 'pymysql'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"
