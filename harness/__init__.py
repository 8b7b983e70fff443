"""Drivers for the outside tools that exercise a running server, shared by ``tests`` and ``bench``.

Neither product code (it is not packaged: ``pyproject.toml`` ships only
``contactcenter``, ``routing`` and ``channels``, and the Docker image copies
only those) nor test code: the benchmarks use it as much as the tests do, and a
benchmark must not import from ``tests``, nor the tests from ``bench``. So it
lives beside both, and nothing here imports pytest or either of them.
"""
