"""``python -m autograder``: the instructor command line (see :mod:`autograder.cli`)."""

from autograder.cli import main

raise SystemExit(main())
