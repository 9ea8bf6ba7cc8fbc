"""``python -m prefect_jsoc.cli``: the ``prefect-jsoc`` command."""

from prefect_jsoc.cli import main

main()
