"""Run every benchmark: each module of this package that has a `main()`, one after the other."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from benchmarks.common import machine


def main() -> None:
    print(machine())
    print()
    package = Path(__file__).parent
    for module_info in sorted(pkgutil.iter_modules([str(package)]), key=lambda m: m.name):
        if module_info.name in ("common", "__main__"):
            continue
        module = importlib.import_module(f"benchmarks.{module_info.name}")
        run = getattr(module, "main", None)
        if callable(run):
            run()


if __name__ == "__main__":
    main()
