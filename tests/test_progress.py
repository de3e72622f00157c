"""The progress display: stages and uploads drawn by rich, log lines printed above it, nothing
left on the screen when it stops."""

from __future__ import annotations

import io
import logging
import sys

from leango.builder.report import Progress


def test_stages_and_uploads_with_size_and_rate_and_the_log_above(monkeypatch):
    buf = io.StringIO()
    handler = logging.StreamHandler(sys.stderr)
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [handler])
    progress = Progress(stream=buf, force_terminal=True)
    with progress:
        assert handler.stream is not sys.stderr  # rerouted through the console
        progress.stage("compile", "example.com/app for linux/amd64")
        progress("sha256:0123456789abcdef", 500, 1000)
        progress._display.refresh()
        logging.getLogger("leango").warning("a log line")
        progress("sha256:0123456789abcdef", 1000, 1000)  # finished: shown done until the next stage
        assert len(progress._display.tasks) == 2
        progress._display.refresh()
        progress.stage("write", "app")
        assert [t.description for t in progress._display.tasks] == ["write: app"]
        progress("sha256:fedcba9876543210", 10, 2000)  # a new upload of the new stage
        progress.stage("write", "app")
        assert len(progress._display.tasks) == 2  # not finished: kept
    drawn = buf.getvalue()
    assert "compile: example.com/app for linux/amd64" in drawn
    assert "upload 0123456789ab" in drawn and "500 B/1.0 kB" in drawn
    assert "a log line" in drawn
    assert handler.stream is sys.stderr  # given back


def test_nothing_is_drawn_before_start_and_finish_is_idempotent():
    buf = io.StringIO()
    progress = Progress(stream=buf, force_terminal=True)
    progress.finish()
    assert buf.getvalue() == ""
    progress.start()
    progress.stage("resolve")
    progress.finish()
    progress.finish()
    assert "resolve" in buf.getvalue()
