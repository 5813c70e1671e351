"""Allow `python -m smsbridge` as an alias of the `smsbridge` console script."""

from smsbridge.cli import main

raise SystemExit(main())
