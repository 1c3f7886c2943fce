"""headcheck.db.template: the data folder initdb made, kept once and copied for every later server."""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path

import psycopg
import pytest

from headcheck.db import template
from headcheck.db.server import throwaway_server
from tests.db.harness import needs_postgres


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache dir of this test's own (the servers below make and use the template there)."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("HEADCHECK_CACHE_DIR", str(folder))
    monkeypatch.delenv("HEADCHECK_NO_CACHE", raising=False)
    return folder


def _identity(conninfo: str) -> tuple[str, str, str, str]:
    """(system identifier, encoding, collation, time zone) of a server."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        row = conn.execute(
            "SELECT (SELECT system_identifier FROM pg_control_system())::text, pg_encoding_to_char(encoding),"
            " datcollate, current_setting('TimeZone') FROM pg_database WHERE datname = 'postgres'"
        ).fetchone()
    assert row is not None
    return (str(row[0]), str(row[1]), str(row[2]), str(row[3]))


def _templates(cache: Path) -> list[Path]:
    return sorted(p for p in cache.iterdir() if p.name.startswith("postgres-")) if cache.exists() else []


@needs_postgres
def test_the_second_server_starts_from_the_first_ones_folder_with_a_password_of_its_own(cache: Path) -> None:
    with throwaway_server() as first:
        first_identity = _identity(first.conninfo("postgres"))
    [kept] = _templates(cache)
    info = kept.lstat()
    # headcheck's own, closed to everyone else (the server's user included)
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (os.geteuid(), 0o700)
    assert all(p.lstat().st_uid == os.geteuid() for p in kept.rglob("*"))
    assert not (kept / "postmaster.pid").exists()  # kept before the server ever ran
    with throwaway_server() as second:
        # the same cluster (initdb gives every cluster a new system identifier): copied, not initdb's
        assert _identity(second.conninfo("postgres")) == first_identity
        assert second.password != first.password
        server_uid = pwd.getpwnam(second.os_user).pw_uid
        assert all(p.lstat().st_uid == server_uid for p in [second.datadir, *second.datadir.rglob("*")])
        # the first server's password does not open the second one
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(
                f"host=127.0.0.1 port={second.port} user={second.user} password={first.password} dbname=postgres",
                connect_timeout=10,
            )
        log = second.logfile.read_text()
        assert second.password not in log
    assert not second.tempdir.exists()
    assert _templates(cache) == [kept]


@needs_postgres
def test_without_a_cache_every_server_is_made_by_initdb(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADCHECK_NO_CACHE", "1")
    with throwaway_server() as first:
        one = _identity(first.conninfo("postgres"))
    with throwaway_server() as second:
        two = _identity(second.conninfo("postgres"))
    assert one[0] != two[0]
    assert one[1:] == two[1:] == ("UTF8", "C", one[3])
    assert _templates(cache) == []


@needs_postgres
def test_a_template_that_cannot_be_copied_or_started_makes_way_for_initdb(cache: Path) -> None:
    with throwaway_server() as first:
        first_id = _identity(first.conninfo("postgres"))[0]
    [kept] = _templates(cache)
    # something that is no regular file: the copy is refused, initdb makes the folder and a new template
    (kept / "base" / "elsewhere").symlink_to("/etc")
    with throwaway_server() as second:
        second_id = _identity(second.conninfo("postgres"))[0]
    assert second_id != first_id
    assert not (kept / "base" / "elsewhere").exists()
    with throwaway_server() as again:  # (from the new template)
        assert _identity(again.conninfo("postgres"))[0] == second_id
    # a folder the server cannot start from (its control file gone): single-user mode fails, initdb
    (kept / "global" / "pg_control").unlink()
    with throwaway_server() as third:
        assert _identity(third.conninfo("postgres"))[0] not in (first_id, second_id)
        assert not list(third.tempdir.glob("template-*"))  # the failed copy's folder is gone
    assert (kept / "global" / "pg_control").exists()


@needs_postgres
def test_a_cache_folder_another_user_may_write_is_not_used(cache: Path) -> None:
    cache.mkdir(mode=0o700)
    cache.chmod(0o777)
    with throwaway_server():
        pass
    assert _templates(cache) == []
    assert template.folder("x") is None


def test_the_copy_takes_regular_files_and_folders_only_and_keeps_their_modes(tmp_path: Path) -> None:
    source = tmp_path / "source"
    (source / "sub").mkdir(parents=True)
    (source / "sub" / "file").write_bytes(b"x" * 100_000)
    (source / "sub" / "file").chmod(0o640)
    (source / "sub").chmod(0o750)
    (source / "empty").write_bytes(b"")
    template.copy_tree(source, tmp_path / "copy")
    assert (tmp_path / "copy" / "sub" / "file").read_bytes() == b"x" * 100_000
    assert stat.S_IMODE((tmp_path / "copy" / "sub" / "file").stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "copy" / "sub").stat().st_mode) == 0o750
    assert (tmp_path / "copy" / "empty").read_bytes() == b""
    os.mkfifo(source / "sub" / "fifo")  # (opened without waiting for a writer)
    with pytest.raises(OSError, match="neither a regular file nor a folder"):
        template.copy_tree(source, tmp_path / "again")
    (source / "sub" / "fifo").unlink()
    (source / "sub" / "link").symlink_to(source / "empty")
    with pytest.raises(OSError, match="Too many levels of symbolic links"):  # O_NOFOLLOW: not followed
        template.copy_tree(source, tmp_path / "third")
    (source / "sub" / "link").unlink()
    (tmp_path / "link-to-source").symlink_to(source)
    with pytest.raises(OSError, match=r"Not a directory|Too many levels"):  # nor is the folder itself
        template.copy_tree(tmp_path / "link-to-source", tmp_path / "fourth")


@pytest.mark.skipif(os.geteuid() != 0, reason="handing files over to another user needs root")
def test_the_servers_copy_belongs_to_the_server_user_entry_by_entry(tmp_path: Path) -> None:
    nobody = pwd.getpwnam("nobody")
    source = tmp_path / "source"
    (source / "a" / "b").mkdir(parents=True)
    (source / "a" / "b" / "f").write_text("x")
    source.chmod(0o700)
    assert template.use(source, tmp_path / "data", tmp_path, (nobody.pw_uid, nobody.pw_gid))
    assert {p.lstat().st_uid for p in [tmp_path / "data", *(tmp_path / "data").rglob("*")]} == {nobody.pw_uid}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("template-")] == []  # (staging removed)
    # a template of another user is not used
    os.chown(source, nobody.pw_uid, nobody.pw_gid)
    assert not template.use(source, tmp_path / "data2", tmp_path, None)
    assert not (tmp_path / "data2").exists()


def test_keeping_a_template_replaces_the_other_builds_and_what_a_killed_run_left(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    source = tmp_path / "initdb"
    source.mkdir()
    (source / "PG_VERSION").write_text("15\n")
    old_build = cache / "postgres-aaaa-old"
    old_build.mkdir()
    other_server = cache / "postgres-bbbb-other"
    other_server.mkdir()
    stale = cache / ".incomplete-x"
    stale.mkdir()
    os.utime(stale, (0, 0))
    fresh = cache / ".incomplete-y"  # (another run writing its template right now)
    fresh.mkdir()
    template.keep(source, cache / "postgres-aaaa-new", "postgres-aaaa-")
    assert sorted(p.name for p in cache.iterdir()) == [".incomplete-y", "postgres-aaaa-new", "postgres-bbbb-other"]
    assert (cache / "postgres-aaaa-new" / "PG_VERSION").read_text() == "15\n"
    assert stat.S_IMODE((cache / "postgres-aaaa-new").stat().st_mode) == 0o700
    # one that is there is kept as it is
    (source / "PG_VERSION").write_text("16\n")
    template.keep(source, cache / "postgres-aaaa-new", "postgres-aaaa-")
    assert (cache / "postgres-aaaa-new" / "PG_VERSION").read_text() == "15\n"


@needs_postgres
@pytest.mark.usefixtures("cache")
def test_the_backend_says_it_starts_quickly_once_there_is_a_template(monkeypatch: pytest.MonkeyPatch) -> None:
    """(The proof then starts the second stairway worker's migration process at once.)"""
    from headcheck.db.backends import get

    backend = get("postgres")
    assert not backend.starts_quickly(None)
    with throwaway_server():
        pass
    assert backend.starts_quickly(None)
    monkeypatch.setenv("HEADCHECK_NO_CACHE", "1")
    assert not backend.starts_quickly(None)
    assert not get("mariadb").starts_quickly(None)
