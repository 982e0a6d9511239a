"""`python -m teleinforeader`, the same as the `teleinforeader` command."""

from __future__ import annotations

import sys

from teleinforeader.cli import main

sys.exit(main())
