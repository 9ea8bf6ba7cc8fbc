"""Every fenced ```python and ```bash example in README.md and docs/*.md runs here, against the emulator.

A new example that fails breaks the suite; the test id names the file, the heading above the example
and its position under that heading (``README.md::7-staging-and-downloading-separately#1``), and a
Python traceback points at the Markdown file and line.

The rules:

- **Which blocks.** Fences tagged ``python`` or ``bash`` are examples. ``console`` (a ``$`` prompt and
  its output) and untagged fences are text. ``py``, ``sh``, ``shell`` and the like are refused, so no
  example is skipped by a spelling.
- **Not runnable here.** An example that cannot run in the suite (the real JSOC, a remote Dask
  scheduler, a command that serves until Ctrl-C, the test suite itself) has a visible marker on the
  line right before its fence::

      <!-- not run in tests: serves until Ctrl-C -->

  It is reported as skipped with that reason. A marker anywhere else is an error.
- **Blocks that belong together.** The Python examples of one file run in one namespace, in file
  order, like the cells of a notebook: a later block may use names from any earlier block of the
  same file (skipped blocks define nothing). Selecting one example (``-k``) first runs the runnable
  examples above it. A failed block does not stop the later ones; their failures then mention it.
- **Bash.** Each bash example runs as a script with ``bash -e`` (a fresh shell, like a new
  terminal), with the running interpreter's ``bin`` first on ``PATH``. It must finish within
  ``BASH_TIMEOUT`` seconds; jobs it starts in the background (``&``) are ended when it finishes.
- **Environment (the fixture).** One emulator and the session's Prefect API (``prefect_harness``) serve
  every example. Each file gets a scratch working directory that looks like the repository root
  (its top-level entries are symlinked in; ``. .venv/bin/activate`` puts this interpreter on
  ``PATH``), its own Prefect result store. The examples see
  ``PREFECT_JSOC_SERVER_URL=<emulator>``, ``PREFECT_JSOC_EMAIL=docs@example.com`` (every address at
  example.com and example.org is registered at the emulator) and ``PREFECT_API_URL=<test API>``.
  The docs write the emulator as ``127.0.0.1:8431`` (``--port 8431``) and a Prefect server as
  ``127.0.0.1:4200``: those two addresses are rewritten to the test's emulator and API.
  Python examples may resolve only loopback host names, so no example reaches the real JSOC.
- **Known failures.** ``KNOWN_FAILURES`` lists examples that fail because of a product bug or a
  document another work package owns, as strict xfails: when the cause is fixed, the test XPASSes,
  fails, and the entry must go.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from markdown_examples import Example, MarkdownExampleError, find_examples

ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
EXAMPLES = [example for path in DOC_FILES for example in find_examples(path)]

#: Seconds one bash example may take.
BASH_TIMEOUT = 240
#: The notify e-mail the examples get from the environment (registered at the emulator).
DOCS_EMAIL = "docs@example.com"
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "", None}

#: id -> why it fails today. Strict: a fixed example XPASSes and fails until its entry is removed.
KNOWN_FAILURES: dict[str, str] = {}


def _params() -> list[object]:
    params = []
    for example in EXAMPLES:
        marks = []
        if example.id in KNOWN_FAILURES:
            marks.append(pytest.mark.xfail(reason=KNOWN_FAILURES[example.id], strict=True))
        params.append(pytest.param(example, id=example.id, marks=marks))
    return params


def test_example_ids_are_unique() -> None:
    ids = [example.id for example in EXAMPLES]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert not set(KNOWN_FAILURES) - set(ids), "KNOWN_FAILURES names examples that no longer exist"


def test_markers_headings_and_languages_are_read_as_documented(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n```python\nx = 1\n```\n\n## Two words\n\n<!-- not run in tests: needs the real JSOC -->\n"
        "```bash\nprefect-jsoc series hmi\n```\n\n**3. A step** (text)\n\n```python\ny = x\n```\n"
        "```console\n$ not an example\n```\n"
    )
    found = find_examples(page)
    assert [(e.id, e.language, e.line, e.skip_reason) for e in found] == [
        ("page.md::page#1", "python", 4, None),
        ("page.md::two-words#1", "bash", 11, "needs the real JSOC"),
        ("page.md::3-a-step#1", "python", 17, None),
    ]


@pytest.mark.parametrize(
    "markdown, complaint",
    [
        ("<!-- not run in tests: why -->\n\n```python\nx = 1\n```\n", "right before a fence"),
        ("<!-- not run in tests -->\n```python\nx = 1\n```\n", "right before a fence"),
        ("```py\nx = 1\n```\n", "```python instead of ```py"),
        ("```sh\nls\n```\n", "```bash instead of ```sh"),
        ("```python\nx = 1\n", "never closed"),
    ],
)
def test_markdown_that_would_hide_an_example_is_refused(tmp_path: Path, markdown: str, complaint: str) -> None:
    page = tmp_path / "page.md"
    page.write_text(markdown)
    with pytest.raises(MarkdownExampleError, match=re.escape(complaint)):
        find_examples(page)


_LOCAL_TARGET = re.compile(r'(?:<img[^>]*\ssrc="(?P<src>[^"]+)"|\]\((?P<link>[^)\s]+)\))')


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: p.name)
def test_local_links_and_images_resolve(path: Path) -> None:
    """Pictures and links to files in the repository point at files that exist, seen from the page."""
    missing = []
    for match in _LOCAL_TARGET.finditer(path.read_text(encoding="utf-8")):
        target = (match["src"] or match["link"]).split("#", 1)[0]
        if target and not re.match(r"^[a-z][a-z0-9+.-]*:", target) and not (path.parent / target).exists():
            missing.append(target)
    assert missing == [], f"{path.name} points at files that do not exist (relative to {path.parent}): {missing}"


# --- the environment the examples run in -------------------------------------------------------------


@pytest.fixture(scope="module")
def docs_emulator() -> Iterator[object]:
    """One emulator for every example: faults off, quick exports."""
    from prefect_jsoc.emulator import JsocEmulator

    with JsocEmulator(export_delay=0.5, seed=1) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def sessions(docs_emulator, tmp_path_factory: pytest.TempPathFactory) -> dict[Path, DocSession]:
    from prefect.settings import PREFECT_API_URL

    api_url = PREFECT_API_URL.value()
    return {
        path: DocSession(path, docs_emulator.url, api_url, tmp_path_factory.mktemp(f"docs-{path.stem}"))
        for path in DOC_FILES
    }


class DocSession:
    """The examples of one Markdown file: one namespace, one working directory, run in order."""

    def __init__(self, path: Path, emulator_url: str, api_url: str, scratch: Path) -> None:
        self.path = path
        self.examples = [e for e in EXAMPLES if e.path == path]
        self.namespace: dict[str, object] = {"__name__": f"docs_{path.stem}"}
        self.outcomes: dict[str, BaseException | None] = {}
        self.workdir = scratch / "work"
        self.emulator_port = emulator_url.rstrip("/").rsplit(":", 1)[1]
        self.api_port = re.search(r":(\d+)/", api_url)[1]  # type: ignore[index]
        self.env = {
            "PREFECT_API_URL": api_url,
            "PREFECT_JSOC_SERVER_URL": emulator_url,
            "PREFECT_JSOC_EMAIL": DOCS_EMAIL,
            "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(scratch / "prefect-results"),
            "PREFECT_JSOC_TASK_RETRY_DELAY": "0.2",
            "PARFIVE_HIDE_PROGRESS": "1",
        }
        self._make_workdir()

    def _make_workdir(self) -> None:
        self.workdir.mkdir(parents=True)
        for entry in ROOT.iterdir():
            if not entry.name.startswith(".") and entry.name != "data":
                (self.workdir / entry.name).symlink_to(entry)
        activate = self.workdir / ".venv" / "bin" / "activate"
        activate.parent.mkdir(parents=True)
        activate.write_text(f'export PATH="{Path(sys.executable).parent}:$PATH"\n')

    def rewrite(self, code: str) -> str:
        """Point the docs' conventional addresses at the test's emulator and Prefect API."""
        code = re.sub(r"(127\.0\.0\.1|localhost):8431\b", rf"\g<1>:{self.emulator_port}", code)
        code = re.sub(r"--port 8431\b", f"--port {self.emulator_port}", code)
        return re.sub(r"(127\.0\.0\.1|localhost):4200\b", rf"\g<1>:{self.api_port}", code)

    def run(self, example: Example) -> None:
        """Run the runnable examples above ``example`` (once each), then ``example`` itself."""
        for earlier in self.examples[: self.examples.index(example)]:
            if earlier.skip_reason is None and earlier.id not in self.outcomes:
                with contextlib.suppress(BaseException):
                    self._run_once(earlier)
        self._run_once(example)

    def _run_once(self, example: Example) -> None:
        try:
            if example.language == "python":
                self._run_python(example)
            else:
                self._run_bash(example)
        except BaseException as exc:
            self.outcomes[example.id] = exc
            failed_before = [i for i, outcome in self.outcomes.items() if outcome is not None and i != example.id]
            if failed_before:
                exc.add_note(f"Earlier examples in {self.path.name} failed too: {', '.join(failed_before)}")
            raise
        self.outcomes[example.id] = None

    def _run_python(self, example: Example) -> None:
        # Padding keeps line numbers: tracebacks and inspect.getsource read the Markdown file itself.
        source = "\n" * (example.line - 1) + self.rewrite(example.code)
        code = compile(source, str(example.path), "exec")
        with self._python_environment():
            exec(code, self.namespace)  # noqa: S102 - running the documentation is the point

    @contextlib.contextmanager
    def _python_environment(self) -> Iterator[None]:
        from prefect.settings import PREFECT_RESULTS_LOCAL_STORAGE_PATH, temporary_settings

        saved_env = {name: os.environ.get(name) for name in self.env}
        saved_cwd = os.getcwd()
        os.environ.update(self.env)
        os.chdir(self.workdir)
        try:
            with temporary_settings(
                {PREFECT_RESULTS_LOCAL_STORAGE_PATH: self.env["PREFECT_RESULTS_LOCAL_STORAGE_PATH"]}
            ):
                with _loopback_only():
                    yield
        finally:
            os.chdir(saved_cwd)
            for name, value in saved_env.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def _run_bash(self, example: Example) -> None:
        script = self.workdir / f".example-line-{example.line}.sh"
        script.write_text(self.rewrite(example.code))
        out, err = self.workdir / f"{script.name}.out", self.workdir / f"{script.name}.err"
        env = {**os.environ, **self.env}
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        with out.open("w") as stdout, err.open("w") as stderr:
            # Own process group, output to files: background jobs cannot hold the test up, and end with it.
            process = subprocess.Popen(
                ["bash", "-e", str(script)],
                cwd=self.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
            )
            try:
                code = process.wait(timeout=BASH_TIMEOUT)
            except subprocess.TimeoutExpired:
                code = None
            finally:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                process.wait()
        transcript = f"--- stdout ---\n{out.read_text()[-4000:]}\n--- stderr ---\n{err.read_text()[-4000:]}"
        if code is None:
            raise AssertionError(
                f"{example.path.name}:{example.line}: the example did not finish in {BASH_TIMEOUT} s. If it starts "
                "a server in the foreground, split it off and mark it `<!-- not run in tests: <reason> -->`.\n"
                + transcript
            )
        assert code == 0, f"{example.path.name}:{example.line}: `bash -e` exited {code}\n{transcript}"


@contextlib.contextmanager
def _loopback_only() -> Iterator[None]:
    """Refuse to resolve any host but loopback while an example runs (no example may reach the real JSOC)."""
    original = socket.getaddrinfo

    def guarded(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        name = host.decode() if isinstance(host, bytes) else host
        if name not in _LOOPBACK:
            raise socket.gaierror(socket.EAI_NONAME, f"the docs test resolves only loopback names, not {name!r}")
        return original(host, *args, **kwargs)

    socket.getaddrinfo = guarded
    try:
        yield
    finally:
        socket.getaddrinfo = original


# --- the test ------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
@pytest.mark.parametrize("example", _params())
def test_example_runs(example: Example, sessions: dict[Path, DocSession]) -> None:
    if example.skip_reason is not None:
        pytest.skip(f"not run in tests: {example.skip_reason}")
    sessions[example.path].run(example)
