"""Configuration: the ``JsocSettings`` Prefect Block plus ``PREFECT_JSOC_*`` environment overrides."""

from __future__ import annotations

import hashlib
import os
from typing import TYPE_CHECKING, Any

from prefect.blocks.core import Block
from pydantic import Field, SecretStr, field_validator

from prefect_jsoc.errors import InvalidOptionError, MissingEmailError

if TYPE_CHECKING:  # pragma: no cover
    import drms

__all__ = ["DEFAULT_SERVER_URL", "ENV_PREFIX", "MIN_POLL_INTERVAL", "JsocSettings"]

DEFAULT_SERVER_URL = "http://jsoc.stanford.edu/"
#: Floor of ``poll_interval``: JSOC documents no polling rate; drms waits 5 s between polls and sunpy 10 s.
MIN_POLL_INTERVAL = 2.0
ENV_PREFIX = "PREFECT_JSOC_"
#: Environment variable naming a saved ``JsocSettings`` block to start from.
SETTINGS_BLOCK_ENV = "PREFECT_JSOC_SETTINGS_BLOCK"

# field name -> environment variable (all PREFECT_JSOC_<FIELD>)
_ENV_FIELDS = (
    "server_url",
    "email",
    "max_pending_exports",
    "max_connections",
    "poll_interval",
    "export_timeout",
    "request_timeout",
    "http_retries",
    "retry_backoff",
    "min_download_rate",
    "download_rate_window",
)


class JsocSettings(Block):
    """Where JSOC is, who asks, and how politely: the settings every prefect-jsoc task uses.

    Save one as a block to share it between deployments, or rely on ``PREFECT_JSOC_*``
    environment variables in scripts. Precedence, in one sentence: **values set explicitly in code
    win, then ``PREFECT_JSOC_<FIELD>`` environment variables, then a saved block's values, then the
    defaults** (the real JSOC, one pending export per e-mail, one download connection). A saved block
    is used when you pass ``JsocSettings.load(name)`` or name it in ``PREFECT_JSOC_SETTINGS_BLOCK``.
    Pointing everything at a JSOC emulator is one variable: ``PREFECT_JSOC_SERVER_URL``.

    ``max_pending_exports`` and ``max_connections`` are enforced by the Prefect server as global
    concurrency limits, so they hold across every flow run on every host that uses it.

    The e-mail is a secret: it never appears in ``repr``, logs or the UI.

    Example:
        ```python
        from prefect import flow
        from prefect_jsoc import JsocQuery, search
        from prefect_jsoc import JsocSettings

        @flow
        def my_flow():
            settings = JsocSettings.load("BLOCK_NAME")
            q = JsocQuery(series="hmi.M_45s", start="2014-01-01T00:00", end="2014-01-01T00:05")
            return search(q, settings=settings).count
        ```
    """

    _block_type_name = "JSOC Settings"
    _block_type_slug = "jsoc-settings"
    # TODO(lead): point this at the project's published docs once they exist.
    _documentation_url = "http://jsoc.stanford.edu/ajax/exportdata.html"
    _description = "JSOC server, notify e-mail and politeness limits for prefect-jsoc tasks."

    server_url: str = Field(
        default=DEFAULT_SERVER_URL,
        description="Base URL of the JSOC server (CGIs under cgi-bin/ajax/, files under it), e.g. an emulator.",
    )
    email: SecretStr | None = Field(
        default=None,
        description="Notify e-mail address registered with JSOC; exports need it, searches do not.",
    )
    max_pending_exports: int = Field(
        default=1,
        ge=1,
        description="Maximum number of pending exports per e-mail, over every host (JSOC allows one).",
    )
    max_connections: int = Field(
        default=1,
        ge=1,
        description="Maximum number of download connections to the server, over every host (JSOC asks for one).",
    )
    poll_interval: float = Field(
        default=10.0,
        ge=MIN_POLL_INTERVAL,
        description=(
            "Longest pause in seconds between two export status polls. The first poll comes when JSOC's "
            "wait estimate says the export should be ready, then 2 s later, growing 1.5x up to this."
        ),
    )
    export_timeout: float = Field(
        default=3600.0,
        gt=0,
        description="Seconds to wait for an export (or a free export slot) before giving up.",
    )
    request_timeout: float = Field(
        default=60.0,
        gt=0,
        description="Timeout in seconds of one HTTP call to the JSOC CGIs (and of a stalled download read).",
    )
    http_retries: int = Field(
        default=1,
        ge=0,
        le=3,
        description=(
            "Retries of one HTTP call after a transient fault, before the task fails (a failed task is "
            "retried once more by Prefect, so a fault costs at most 2 x (1 + this) attempts)."
        ),
    )
    retry_backoff: float = Field(
        default=1.0,
        ge=0,
        description="First delay in seconds of the exponential backoff between those retries.",
    )
    min_download_rate: float = Field(
        default=4096.0,
        ge=0,
        description=(
            "Slowest acceptable download in bytes per second, averaged over download_rate_window; a slower "
            "file is abandoned as a transient fault and retried (0 disables the check)."
        ),
    )
    download_rate_window: float = Field(
        default=60.0,
        gt=0,
        description="Seconds over which a download's rate is measured against min_download_rate.",
    )

    @field_validator("server_url")
    @classmethod
    def _normalise_url(cls, value: str) -> str:
        value = str(value).strip()
        if not value.lower().startswith(("http://", "https://")):
            raise InvalidOptionError(
                f"server_url {value!r} must be an http:// or https:// URL, such as {DEFAULT_SERVER_URL!r}."
            )
        return value.rstrip("/") + "/"

    @field_validator("email", mode="before")
    @classmethod
    def _empty_email_is_none(cls, value: Any) -> Any:
        if value is None:
            return None
        raw = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        return SecretStr(raw.strip()) if raw.strip() else None

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            if name == "email" and value is not None and not isinstance(value, SecretStr):
                value = SecretStr(str(value))  # a plain string slipped in via model_copy(update=...)
            yield name, value

    # -- resolution ---------------------------------------------------------------------------

    @classmethod
    def resolve(cls, settings: JsocSettings | None = None) -> JsocSettings:
        """Return the effective settings (see the class docstring for the order).

        Args:
            settings: Settings passed explicitly, or None.

        Returns:
            A new :class:`JsocSettings` with environment overrides applied.

        Raises:
            InvalidOptionError: When an environment variable has a value of the wrong type.

        Example:
            ```python
            import os
            from prefect_jsoc import JsocSettings
            os.environ["PREFECT_JSOC_SERVER_URL"] = "http://127.0.0.1:8080"
            assert JsocSettings.resolve().server_url == "http://127.0.0.1:8080/"
            ```
        """
        if settings is not None and getattr(settings, "_block_document_id", None) is None:
            base, explicit = settings, set(settings.model_fields_set)
        elif settings is not None:  # a saved block: its values rank below the environment
            base, explicit = settings, set()
        else:
            block_name = os.environ.get(SETTINGS_BLOCK_ENV, "").strip()
            base = cls.load(block_name) if block_name else cls()  # type: ignore[assignment]
            explicit = set()
        values: dict[str, Any] = {name: getattr(base, name) for name in _ENV_FIELDS}
        for name in _ENV_FIELDS:
            if name in explicit:
                continue
            raw = os.environ.get(ENV_PREFIX + name.upper())
            if raw is None or raw.strip() == "":
                continue
            values[name] = raw.strip()
        try:
            resolved = cls(**values)
        except Exception as exc:  # pydantic ValidationError -> clear, typed message
            raise InvalidOptionError(
                f"The prefect-jsoc settings are invalid after applying PREFECT_JSOC_* environment variables: "
                f"{_short_error(exc)}"
            ) from exc
        return resolved  # every field is now set: resolving it again changes nothing

    # -- helpers --------------------------------------------------------------------------------

    @property
    def server_id(self) -> str:
        """A short stable digest of ``server_url`` (used in cache keys and state paths)."""
        return hashlib.sha256(self.server_url.encode()).hexdigest()[:12]

    def email_address(self) -> str | None:
        """Return the configured e-mail in clear text, or None (never log it)."""
        value: Any = self.email
        if value is None:
            return None
        text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        return text.strip() or None

    def notify_email(self, override: str | None = None) -> str:
        """Return the notify e-mail to use for an export.

        Args:
            override: An e-mail given on the query itself; it wins over the configured one.

        Returns:
            The e-mail address.

        Raises:
            MissingEmailError: When neither is set.

        Example:
            ```python
            from prefect_jsoc import JsocSettings
            assert JsocSettings(email="me@example.org").notify_email() == "me@example.org"
            ```
        """
        if override:
            return override
        configured = self.email_address()
        if configured:
            return configured
        raise MissingEmailError(
            "A registered e-mail is required to export data from JSOC (searching needs none). Set the "
            "PREFECT_JSOC_EMAIL environment variable, or email=... in a JsocSettings block. Register an "
            "address at http://jsoc.stanford.edu/ajax/register_email.html."
        )

    def server_config(self) -> drms.ServerConfig:
        """Build the ``drms.ServerConfig`` for :attr:`server_url` (CGIs under ``cgi-bin/ajax/``).

        Returns:
            A drms server configuration usable with ``drms.Client(config)``.

        Example:
            ```python
            import drms
            from prefect_jsoc import JsocSettings
            client = drms.Client(JsocSettings(server_url="http://127.0.0.1:8080").server_config())
            ```
        """
        from prefect_jsoc.client import make_server_config

        return make_server_config(self.server_url)


def _short_error(exc: BaseException) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            return "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in errors()) + "."
        except Exception:  # pragma: no cover - defensive
            pass
    return str(exc)
