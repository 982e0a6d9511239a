"""Benchmarks: each module with a `main()` prints one table; `python -m benchmarks` runs all."""
