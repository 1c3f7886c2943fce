"""``python -m headcheck``: the same as the ``headcheck`` command.

``python -m`` puts the current folder first on ``sys.path``. Run from the root of the repository
being checked, that repository's own ``argparse.py`` or ``typing.py`` would then be imported
instead of the standard library's. The entry is dropped here, before anything else is imported
(only ``headcheck/__init__.py``, which imports nothing, and the interpreter's frozen start-up
modules ran before this line). The folder was still searched for ``headcheck`` itself, so the
fully safe forms are ``python -P -m headcheck`` (Python 3.11+) and the ``headcheck`` script.
"""

import os
import sys

if not sys.flags.safe_path and sys.path and os.path.realpath(sys.path[0] or os.curdir) == os.path.realpath(os.curdir):
    del sys.path[0]

from headcheck.cli import main

raise SystemExit(main())
