"""``python -m pkmodel``: the same command as ``pkmodel`` (see :mod:`pkmodel.interfaces.cli`)."""

from pkmodel.interfaces.cli import main

raise SystemExit(main())
