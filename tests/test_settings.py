"""JsocSettings: defaults, PREFECT_JSOC_* overrides, the saved block, secrecy of the e-mail."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from prefect.testing.standard_test_suites import BlockStandardTestSuite

from prefect_jsoc import JsocSettings
from prefect_jsoc.errors import InvalidOptionError, MissingEmailError

SECRET = "secret.person@example.org"


def test_defaults_follow_jsoc_policy(monkeypatch: pytest.MonkeyPatch):
    for name in ("SERVER_URL", "EMAIL", "MAX_PENDING_EXPORTS", "MAX_CONNECTIONS"):
        monkeypatch.delenv(f"PREFECT_JSOC_{name}", raising=False)
    s = JsocSettings.resolve()
    assert s.server_url == "http://jsoc.stanford.edu/"
    assert (s.max_pending_exports, s.max_connections) == (1, 1)
    assert (s.poll_interval, s.export_timeout, s.request_timeout, s.http_retries) == (10.0, 3600.0, 60.0, 1)
    assert s.email is None


def test_polling_has_a_floor(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PREFECT_JSOC_POLL_INTERVAL", "0.001")
    with pytest.raises(InvalidOptionError, match="poll_interval: Input should be greater than or equal to 2"):
        JsocSettings.resolve()


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("PREFECT_JSOC_SERVER_URL", "http://127.0.0.1:8123")
    monkeypatch.setenv("PREFECT_JSOC_EMAIL", SECRET)
    monkeypatch.setenv("PREFECT_JSOC_MAX_PENDING_EXPORTS", "2")
    monkeypatch.setenv("PREFECT_JSOC_MAX_CONNECTIONS", "4")
    s = JsocSettings.resolve()
    assert s.server_url == "http://127.0.0.1:8123/"
    assert s.notify_email() == SECRET
    assert (s.max_pending_exports, s.max_connections) == (2, 4)
    assert s.server_config().url_jsoc_fetch == "http://127.0.0.1:8123/cgi-bin/ajax/jsoc_fetch"
    assert s.server_config().http_download_baseurl == "http://127.0.0.1:8123/"


def test_fields_set_explicitly_win_over_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PREFECT_JSOC_SERVER_URL", "http://127.0.0.1:8123/")
    monkeypatch.setenv("PREFECT_JSOC_MAX_CONNECTIONS", "4")
    s = JsocSettings.resolve(JsocSettings(server_url="http://127.0.0.1:9999"))
    assert s.server_url == "http://127.0.0.1:9999/"
    assert s.max_connections == 4  # not set explicitly: the environment applies


def test_bad_environment_values_raise_a_clear_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PREFECT_JSOC_MAX_CONNECTIONS", "many")
    with pytest.raises(
        InvalidOptionError,
        match=re.escape(
            "The prefect-jsoc settings are invalid after applying PREFECT_JSOC_* environment variables: "
            "max_connections:"
        ),
    ):
        JsocSettings.resolve()
    monkeypatch.setenv("PREFECT_JSOC_MAX_CONNECTIONS", "1")
    monkeypatch.setenv("PREFECT_JSOC_SERVER_URL", "jsoc.stanford.edu")
    with pytest.raises(InvalidOptionError, match="server_url 'jsoc.stanford.edu' must be an http"):
        JsocSettings.resolve()


def test_email_is_never_shown(monkeypatch: pytest.MonkeyPatch):
    s = JsocSettings(email=SECRET)
    assert SECRET not in repr(s) and SECRET not in str(s)
    assert SECRET not in s.model_dump_json()
    copied = JsocSettings().model_copy(update={"email": SECRET})  # a plain string slipped in
    assert SECRET not in repr(copied)
    assert copied.notify_email() == SECRET
    assert s.notify_email("other@example.org") == "other@example.org"


def test_missing_email_names_every_way_to_set_it(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("PREFECT_JSOC_EMAIL", raising=False)
    with pytest.raises(
        MissingEmailError,
        match=re.escape(
            "A registered e-mail is required to export data from JSOC (searching needs none). Set the "
            "PREFECT_JSOC_EMAIL environment variable, or email=... in a JsocSettings block."
        ),
    ):
        JsocSettings.resolve().notify_email()


class TestJsocSettingsBlockStandards(BlockStandardTestSuite):
    @pytest.fixture
    def block(self):
        return JsocSettings

    def test_has_a_valid_image(self, block):  # no logo yet, and the check needs the network
        pytest.skip("prefect-jsoc has no logo; the standard check downloads it")


@pytest.mark.usefixtures("prefect_harness")
def test_saved_block_is_used_and_environment_still_overrides(monkeypatch: pytest.MonkeyPatch):
    JsocSettings(server_url="http://127.0.0.1:7000", email=SECRET, max_connections=3).save(
        "jsoc-test-settings", overwrite=True
    )
    monkeypatch.setenv("PREFECT_JSOC_SETTINGS_BLOCK", "jsoc-test-settings")
    monkeypatch.delenv("PREFECT_JSOC_SERVER_URL")
    s = JsocSettings.resolve()
    assert (s.server_url, s.max_connections, s.notify_email()) == ("http://127.0.0.1:7000/", 3, SECRET)
    monkeypatch.setenv("PREFECT_JSOC_SERVER_URL", "http://127.0.0.1:7001")
    assert JsocSettings.resolve().server_url == "http://127.0.0.1:7001/"


@pytest.mark.usefixtures("prefect_harness")
def test_a_loaded_block_ranks_below_the_environment_and_explicit_values_above_it(monkeypatch: pytest.MonkeyPatch):
    JsocSettings(email=SECRET).save("jsoc-test-readme", overwrite=True)  # the README's block: e-mail only
    monkeypatch.setenv("PREFECT_JSOC_SERVER_URL", "http://127.0.0.1:7002")
    loaded = JsocSettings.resolve(JsocSettings.load("jsoc-test-readme"))
    assert (loaded.server_url, loaded.notify_email()) == ("http://127.0.0.1:7002/", SECRET)
    explicit = JsocSettings.resolve(JsocSettings(server_url="http://127.0.0.1:7003"))
    assert explicit.server_url == "http://127.0.0.1:7003/"
