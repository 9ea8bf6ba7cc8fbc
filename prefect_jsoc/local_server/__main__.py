"""``python -m prefect_jsoc.local_server``: run a server process (see :mod:`prefect_jsoc.local_server.serve`)."""

from prefect_jsoc.local_server.serve import main

main()
