"""drms objects for one JSOC server, with the one place where prefect-jsoc reaches into drms.

Every CGI call goes through drms's public API:

* ``drms.HttpJsonClient`` (``series_struct``, ``rs_summary``, ``check_address``, ``exp_request``,
  ``exp_status``) where the caller needs JSOC's reply as it came: the ``primekeysinfo`` of a
  series, the count of a record set, the status *and* message of an e-mail check, and every field
  of an export reply (``wait``, ``size``, ``rcount``, ``error``, ...), which ``drms.ExportRequest``
  keeps private and whose ``data``/``dir`` block in ``wait()`` while an export is pending;
* ``drms.Client`` (``series``, ``query``) where drms's parsing is what we want: keyword values
  converted to numbers as drms does (hexadecimal ``QUALITY`` included).

Where drms is in the way, this module works around it, and nowhere else:

1. **No per-call timeout** (drms 0.9.0 and 0.9.1): :class:`_TimedJsonClient`.
2. **Hexadecimal integers lost under pandas 3** (drms 0.9.0 only; sunpy/drms#167, fixed in 0.9.1,
   which needs Python 3.12): :meth:`DrmsClient.query`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import drms
import pandas as pd
from packaging.version import Version

from prefect_jsoc._log import undo_drms_root_logging
from prefect_jsoc.series import series_name

# drms 0.9 calls logging.basicConfig() when imported; _log.py recognises that handler and removes it.
undo_drms_root_logging()

__all__ = ["DrmsClient", "make_server_config", "timed_cgi_client"]

# drms 0.9.0 converts hexadecimal integer values (QUALITY) only in columns of numpy object dtype;
# pandas 3 reads strings into its own string dtype, so they become NaN (sunpy/drms#167).
_HEX_INTEGERS_LOST = Version(drms.__version__) < Version("0.9.1")

#: Series definitions JsocClient already holds: lower-cased series name -> series_struct reply, or None.
KnownStruct = Callable[[str], "dict[str, Any] | None"]


def make_server_config(server_url: str, name: str = "PREFECT_JSOC") -> drms.ServerConfig:
    """Build a ``drms.ServerConfig`` for a JSOC-like server at ``server_url``.

    The CGIs are expected under ``<server_url>cgi-bin/ajax/`` and files under ``<server_url>``,
    as on ``http://jsoc.stanford.edu/``. The trailing slash is always normalised.

    Args:
        server_url: Base URL, e.g. ``"http://jsoc.stanford.edu"`` or ``"http://127.0.0.1:8080/"``.
        name: The configuration's name in drms.

    Returns:
        The server configuration.

    Example:
        ```python
        from prefect_jsoc.client import make_server_config
        cfg = make_server_config("http://127.0.0.1:8080")
        assert cfg.url_jsoc_fetch == "http://127.0.0.1:8080/cgi-bin/ajax/jsoc_fetch"
        ```
    """
    base = server_url.rstrip("/") + "/"
    return drms.ServerConfig(
        name=name,
        cgi_baseurl=f"{base}cgi-bin/ajax/",
        cgi_show_series="show_series",
        cgi_jsoc_info="jsoc_info",
        cgi_jsoc_fetch="jsoc_fetch",
        cgi_check_address="checkAddress.sh",
        cgi_show_series_wrapper="showextseries",
        show_series_wrapper_dbhost="hmidb2",
        http_download_baseurl=base,
    )


class _TimedJsonClient(drms.HttpJsonClient):
    """drms's CGI client, opening every URL with a timeout of our choosing.

    **The one drms workaround.** drms 0.9.0 and 0.9.1 open each CGI URL through
    ``HttpJsonClient._json_request``, which builds ``drms.HttpJsonRequest(url, encoding)`` without
    a timeout, so every call waits up to ``HttpJsonRequest``'s default of 60 s (or the process-wide
    ``socket.setdefaulttimeout``, which would change every socket of the process). Neither
    ``drms.Client`` nor ``HttpJsonClient`` takes a timeout. This subclass overrides that one private
    method to pass ``request_timeout`` to the public ``HttpJsonRequest``, and :class:`DrmsClient`
    puts it in place of the client ``drms.Client`` builds for itself (its private ``_json``).
    Everything else (URLs, parameters, decoding, errors) stays drms's. If drms grows a timeout
    argument, this class and that one assignment go.
    """

    def __init__(self, server: drms.ServerConfig, timeout: float):
        super().__init__(server)
        self.timeout = timeout

    def _json_request(self, url: str) -> drms.HttpJsonRequest:
        # drms still prefers a process-wide socket default timeout over this one, when one is set.
        return drms.HttpJsonRequest(url, self.server.encoding, timeout=self.timeout)


def timed_cgi_client(server: drms.ServerConfig, timeout: float) -> drms.HttpJsonClient:
    """drms's CGI client for ``server`` whose calls time out after ``timeout`` seconds.

    Args:
        server: The server configuration.
        timeout: Seconds to wait for a connection and for each read.

    Returns:
        A ``drms.HttpJsonClient``; its public methods return JSOC's JSON replies.
    """
    return _TimedJsonClient(server, timeout)


class DrmsClient(drms.Client):
    """``drms.Client`` on a given CGI client, reading series definitions the caller already holds.

    ``Client.query`` converts keyword values with the series definition from ``Client.info``. drms
    would fetch that definition once more and keep it forever; :meth:`info` builds it (with drms's
    public ``SeriesInfo``) from the reply the caller has cached, and asks drms only for a series the
    caller does not hold.

    Args:
        cgi: The CGI client all calls go through (from :func:`timed_cgi_client`).
        known_struct: Returns the cached ``series_struct`` reply of a lower-cased series name, or None.
    """

    def __init__(self, cgi: drms.HttpJsonClient, known_struct: KnownStruct):
        super().__init__(cgi.server)
        self._json = cgi  # part of the workaround above: drms's own client has no timeout
        self._known_struct = known_struct

    def info(self, ds: str) -> drms.SeriesInfo:
        """The drms series definition of the series ``ds`` starts with (see the class docstring)."""
        name = series_name(ds).lower()
        struct = self._known_struct(name)
        if struct is None:
            return super().info(ds)
        return drms.SeriesInfo(struct, name=name)

    def query(self, ds: str, **options: Any) -> Any:
        """``drms.Client.query``; on drms 0.9.0 integer keywords are converted here (see the module doc)."""
        if not _HEX_INTEGERS_LOST or options.get("key") is None or not options.get("convert_numeric", True):
            return super().query(ds, **options)
        keywords = self.info(ds).keywords
        integers = [str(k) for k in keywords.index[keywords.is_integer]]
        skipped = options.pop("skip_conversion", None) or []
        skipped = [skipped] if isinstance(skipped, str) else list(skipped)
        found = super().query(ds, skip_conversion=integers + skipped, **options)
        values = found[0] if isinstance(found, tuple) else found
        for name in values.columns.intersection(integers).difference(skipped):
            values[name] = pd.to_numeric(values[name].map(_hex_to_int), errors="coerce")
        return found


def _hex_to_int(value: Any) -> Any:
    return int(value, 16) if isinstance(value, str) and value[:2].lower() == "0x" else value
