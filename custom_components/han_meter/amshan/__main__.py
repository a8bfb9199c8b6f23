"""``python -m amshan``: read a meter, decode a capture or simulate a meter."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":  # pragma: no branch
    sys.exit(main())
