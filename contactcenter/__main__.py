"""Allow ``python -m contactcenter``."""

from contactcenter.cli import main

raise SystemExit(main())
