"""``python -m prefect_jsoc.emulator [OPTIONS]`` serves the emulator (see ``cli.py``)."""

from .cli import main

main()
