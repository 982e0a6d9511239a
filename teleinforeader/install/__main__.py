"""`python3 -m teleinforeader.install`: see teleinforeader.install.cli."""

from __future__ import annotations

import sys

from teleinforeader.install.cli import main

sys.exit(main())
