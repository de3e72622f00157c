"""URLs with userinfo are printed redacted everywhere (as the go command prints GOPROXY)."""

from __future__ import annotations

import logging

import pytest

from leango.builder.redact import redact


@pytest.mark.parametrize("text,shown", [
    ("https://ci-bot:TOKEN@goproxy.corp.example", "https://xxxxx@goproxy.corp.example"),
    ("GOPROXY=https://a:b@p1.example,https://c:d@p2.example/mod,direct",
     "GOPROXY=https://xxxxx@p1.example,https://xxxxx@p2.example/mod,direct"),
    ("http://user:p@ss@proxy:3128/x", "http://xxxxx@proxy:3128/x"),  # a password holding '@'
    ("https://TOKEN@host/path", "https://xxxxx@host/path"),
    ('reading "https://u:pw@h/m/@v/list": 401', 'reading "https://xxxxx@h/m/@v/list": 401'),
])
def test_userinfo_is_redacted(text, shown):
    assert redact(text) == shown


@pytest.mark.parametrize("text", [
    "https://proxy.golang.org,direct", "off", "git@github.com:org/repo.git is not a URL with a scheme",
    "example.com/m@v1.2.3: module lookup disabled", "https://host/path/@v/v1.0.0.zip",
])
def test_text_without_userinfo_is_left_alone(text):
    assert redact(text) == text


def test_registry_messages_drop_userinfo_and_queries():
    from leango.oci.registry.httputil import redact as redact_url
    assert redact_url("https://u:secret@reg.example:5000/v2/x/blobs/uploads/1?_state=abc") == \
        "https://reg.example:5000/v2/x/blobs/uploads/1?…"
    assert redact_url("https://reg.example/v2/") == "https://reg.example/v2/"


def test_cli_log_lines_carry_no_userinfo_at_any_level(capsys):
    from leango.builder import cli
    cli._setup_logging(2, False)
    try:
        logging.getLogger("leango.test").debug("run: go env GOPROXY=%s", "https://bot:TOK@p.example")
        logging.getLogger("leango.test").info("plain %d", 3)
    finally:
        logging.getLogger().handlers[:] = []
    err = capsys.readouterr().err
    assert err == "leango: run: go env GOPROXY=https://xxxxx@p.example\nleango: plain 3\n"
