"""The aiohttp application: the routes of the JSOC CGIs, the file server and the control API.

Routes::

    GET|POST /cgi-bin/ajax/jsoc_info        op=series_struct | rs_summary | rs_list
    GET|POST /cgi-bin/ajax/jsoc_fetch       op=exp_request | exp_status | exp_repeat
    GET|POST /cgi-bin/ajax/show_series
    GET|POST /cgi-bin/ajax/showextseries
    GET|POST /cgi-bin/ajax/checkAddress.sh
    GET|HEAD /SUM{n}/D{sunum}/S{slot}/{file}  record files and export files (Range supported)
    GET      /_emulator/stats     POST /_emulator/reset[?exports=1]
    GET      /_emulator/log       (recent requests with their time and injected fault)
    GET|POST /_emulator/config    (POST a JSON object of knobs to change them)

The handlers live in :mod:`.cgi_info`, :mod:`.cgi_export`, :mod:`.file_server` and :mod:`.control`;
what they share in :mod:`.state` and :mod:`.cgi_common`.
"""

from __future__ import annotations

from aiohttp import web

from .cgi_export import check_address, jsoc_fetch
from .cgi_info import jsoc_info, show_series, showextseries
from .control import config_api, get_log, get_stats, post_reset
from .file_server import sums_file
from .state import LOG_SIZE, STATE, EmulatorState, log_entry

# EmulatorState, LOG_SIZE, STATE and log_entry are re-exported: they lived here before.
__all__ = ["EmulatorState", "LOG_SIZE", "STATE", "create_app", "log_entry"]


async def index(request: web.Request) -> web.Response:
    """A one-line description at ``/``."""
    return web.Response(text="JSOC emulator (prefect_jsoc.emulator): CGIs under /cgi-bin/ajax/\n")


def create_app(state: EmulatorState) -> web.Application:
    """Build the application serving ``state``."""
    app = web.Application(client_max_size=8 * 1024 * 1024)
    app[STATE] = state
    cgi = "/cgi-bin/ajax"
    routes = [
        ("jsoc_info", jsoc_info),
        ("jsoc_fetch", jsoc_fetch),
        ("show_series", show_series),
        ("showextseries", showextseries),
        ("checkAddress.sh", check_address),
    ]
    for name, handler in routes:
        app.router.add_route("GET", f"{cgi}/{name}", handler)
        app.router.add_route("POST", f"{cgi}/{name}", handler)
    app.router.add_get(r"/SUM{part:\d+}/D{sunum:\d+}/S{slot:\d+}/{name}", sums_file)
    app.router.add_get("/_emulator/stats", get_stats)
    app.router.add_get("/_emulator/log", get_log)
    app.router.add_post("/_emulator/reset", post_reset)
    app.router.add_route("GET", "/_emulator/config", config_api)
    app.router.add_route("POST", "/_emulator/config", config_api)
    app.router.add_get("/", index)
    return app
