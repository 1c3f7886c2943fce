"""Entry point: ``headcheck [COMMAND] [ARGS]``; ``check`` is the default command.

Each command is a module in ``headcheck.commands`` with ``add_arguments(parser)`` and
``run(args) -> int``. Only the chosen command's module is imported, so the static gate starts
fast and never pulls in alembic, sqlalchemy or yaml.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from headcheck.terminal import EXIT_FAIL, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, use_color

# name -> (module, one-line description)
COMMANDS: dict[str, tuple[str, str]] = {
    "check": ("headcheck.commands.check", "check migration histories statically (the default)"),
    "envs": ("headcheck.commands.envs", "list the Alembic environments found"),
    "db": ("headcheck.commands.db", "prove migrations on a throwaway PostgreSQL (upgrade, downgrade -1, upgrade)"),
    "current": ("headcheck.commands.current", "read alembic_version of a live database (SELECT only)"),
    "merge": ("headcheck.commands.merge", "write the merge revision for the current heads"),
    "rebase": ("headcheck.commands.rebase", "re-parent a branch onto the other head to keep history linear"),
    "graph": ("headcheck.commands.graph", "draw the revision graph (text, mermaid, dot)"),
    "action": ("headcheck.commands.action", "GitHub Action entry point (reads INPUT_*)"),
}


def _usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = [
        "usage: headcheck [COMMAND] [OPTIONS] [PATH]",
        "",
        "A CI gate for Alembic migration histories. Exit codes: 0 clean, 1 the gate fails,",
        "2 usage or configuration error.",
        "",
        "commands:",
    ]
    lines += [f"  {name.ljust(width)}  {description}" for name, (_, description) in COMMANDS.items()]
    lines += ["", "Run `headcheck COMMAND --help` for a command's options."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-h", "--help"):
        print(_usage())
        return EXIT_OK
    if args and args[0] == "--version":
        from headcheck import __version__

        print(f"headcheck {__version__}")
        return EXIT_OK
    command = "check"
    if args and args[0] in COMMANDS:
        if os.path.isdir(args[0]):
            # A folder named like a command (a project's db/) is the PATH to check, never the
            # command; `headcheck check db` is the explicit form.
            print(
                f"headcheck: note: {args[0]!r} is a folder here, so it is checked as PATH "
                f"(to run the {args[0]} command, run it from another folder: `headcheck {args[0]} PATH`)",
                file=sys.stderr,
            )
        else:
            command = args.pop(0)
    if command == "check":
        from headcheck import result_cache
        from headcheck.fs import write_stdout

        replayed = result_cache.replay(sys.argv[1:] if argv is None else list(argv), use_color(sys.stdout))
        if replayed is not None:
            text, notes, code = replayed
            sys.stderr.write(notes)
            write_stdout(text)
            return code
    import argparse
    import importlib

    module = importlib.import_module(COMMANDS[command][0])
    from headcheck.commands import help_formatter

    parser = argparse.ArgumentParser(
        prog=f"headcheck {command}" if command != "check" else "headcheck",
        description=COMMANDS[command][1],
        formatter_class=help_formatter,
    )
    module.add_arguments(parser)
    try:
        # Intermixed: options may sit between positionals (`headcheck rebase REV --onto X PATH`).
        namespace = parser.parse_intermixed_args(args)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    collect_at_exit = True
    if argv is None and command == "check":
        # This process is the static gate's command line, and ends when the check does: no cyclic
        # garbage collection at all (the records hold no cycles; at 5,000 revisions the collector
        # cost over 100 ms walking them, during the run and again when the interpreter exits).
        import gc

        gc.disable()
        collect_at_exit = False
    try:
        code = int(module.run(namespace))
        if not collect_at_exit:
            _end_process(code)
        return code
    except KeyboardInterrupt:
        print("headcheck: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_FAIL
    except Exception as exc:  # a bug: still one line, unless asked for the traceback
        if isinstance(exc, ModuleNotFoundError):  # an optional dependency: name the extra that brings it
            from headcheck.extras import for_missing_module

            message = for_missing_module(f"headcheck {command}", exc)
            if message is not None:
                print(f"headcheck: error: {message}", file=sys.stderr)
                return EXIT_USAGE
        if os.environ.get("HEADCHECK_DEBUG"):
            raise
        from headcheck.limits import shorten
        from headcheck.logsafe import line

        detail = shorten(" ".join(str(exc).split()))  # one line, bounded, whatever the exception holds
        print(
            line(
                f"headcheck: internal error: {type(exc).__name__}: {detail} (set HEADCHECK_DEBUG=1 for the traceback)"
            ),
            file=sys.stderr,
        )
        return EXIT_USAGE
    finally:
        if not collect_at_exit:
            import gc

            gc.freeze()  # what is left is freed as the process exits, without a last full collection


def _end_process(code: int) -> None:
    """End the static gate's process here, with ``code``: the report flushed, nothing torn down.

    The worker is reaped and every cache file written by now; what is left is freeing the run's
    records one by one and the interpreter's own teardown, 10 ms of a cold check at 5,000
    revisions. Returns, for the usual exit, if a flush fails (a closed pipe exits as before).
    """
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    os._exit(code)


if __name__ == "__main__":
    raise SystemExit(main())
