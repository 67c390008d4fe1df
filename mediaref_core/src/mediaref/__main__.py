"""``python -m mediaref``: the ``mediaref`` command."""

import sys

from ._cli import main

sys.exit(main())
