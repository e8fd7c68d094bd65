"""``python -m pkmodel``: the same command as ``pkmodel`` (see :mod:`pkmodel.cli`)."""

from pkmodel.cli import main

raise SystemExit(main())
