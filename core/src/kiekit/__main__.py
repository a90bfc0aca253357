"""``python -m kiekit``: the ``kie`` command, for environments without its script on PATH."""

import sys

from kiekit.cli import main

sys.exit(main())
