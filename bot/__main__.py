"""Allow ``python -m bot`` to behave exactly like the ``pledgewatch`` script."""

from bot.cli import main

raise SystemExit(main())
