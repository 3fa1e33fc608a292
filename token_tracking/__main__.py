"""``python -m token_tracking``: the ``token-tracking`` command."""

import sys

from ._cli import main

sys.exit(main())
