"""``python -m providers.sandbox``: see ``providers.sandbox.cli``."""

import sys

from providers.sandbox.cli import main

sys.exit(main())
