"""Benchmarks of prefect-jsoc against sunpy, drms, parfive and aiohttp, on the bundled JSOC emulator.

Run everything with ``python -m bench`` (or ``make bench``); see ``docs/performance.md``.
"""
