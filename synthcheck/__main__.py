"""``python -m synthcheck`` is the ``synthcheck`` console script."""

from .cli import main

raise SystemExit(main())
