"""Entry point for `python -m facerec`."""

from facerec.cli import main

raise SystemExit(main())
