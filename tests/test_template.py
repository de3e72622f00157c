"""--ldflags templates: the names ko users know, each value or a clear error, nothing else."""

from __future__ import annotations

import pytest

from leango.builder.errors import SpecError
from leango.builder.template import Context, expand, has_templates

COMMIT = "c0ffee1234567890abcdef1234567890abcdef12"


def _context(environ=None, git=(COMMIT, "v1.2.3"), epoch=0, now=1700000000.7):
    asked = []

    def read_git():
        asked.append(True)
        return git
    return Context(environ or {}, read_git, epoch, lambda: now), asked


def test_each_name_expands_and_text_around_it_stays():
    context, _ = _context({"VERSION": "2.0", "EMPTY": ""})
    text = ("-s -w -X main.v={{ .Env.VERSION }} -X main.e={{.Env.EMPTY}}x -X main.t={{ .Git.Tag }} "
            "-X main.c={{ .Git.ShortCommit }} -X main.f={{- .Git.FullCommit -}} -X main.d={{ .Date }} "
            "-X main.ts={{ .Timestamp }}")
    assert expand(text, context, "--ldflags") == (
        f"-s -w -X main.v=2.0 -X main.e=x -X main.t=v1.2.3 -X main.c=c0ffee1 -X main.f={COMMIT} "
        "-X main.d=2023-11-14T22:13:20Z -X main.ts=1700000000")


def test_the_time_is_source_date_epoch_when_set():
    context, _ = _context(epoch=86400)
    assert expand("{{ .Date }} {{ .Timestamp }}", context, "x") == "1970-01-02T00:00:00Z 86400"


def test_git_is_read_only_when_a_git_name_is_used():
    context, asked = _context({"A": "1"})
    assert expand("-X m.a={{ .Env.A }} {{ .Date }}", context, "x") and asked == []
    expand("{{ .Git.ShortCommit }}", context, "x")
    assert asked == [True]
    assert expand("plain -X a=b", context, "x") == "plain -X a=b" and not has_templates("plain")
    assert expand("-X a=}} {{ .Timestamp }}", context, "x") == "-X a=}} 1700000000"  # a lone }} is text


@pytest.mark.parametrize(("text", "message"), [
    ("{{ .Env.MISSING }}", "--ldflags: {{ .Env.MISSING }} names MISSING, which is not set"),
    ("{{ .Version }}", "--ldflags: unknown template name {{ .Version }} (known: .Env.NAME, .Git.Tag, "
                       ".Git.ShortCommit, .Git.FullCommit, .Date, .Timestamp)"),
    ("{{ .Env.1X }}", "--ldflags: unknown template name {{ .Env.1X }} (known: .Env.NAME, .Git.Tag, "
                      ".Git.ShortCommit, .Git.FullCommit, .Date, .Timestamp)"),
    ("{{ .git.tag }}", "--ldflags: unknown template name {{ .git.tag }} (known: .Env.NAME, .Git.Tag, "
                       ".Git.ShortCommit, .Git.FullCommit, .Date, .Timestamp)"),
    ("-X a={{ .Date", "--ldflags: an unclosed template action in '-X a={{ .Date' (templates are {{ .NAME }})"),
    ("{{ .Date }} {{", "--ldflags: an unclosed template action in '{{ .Date }} {{' (templates are {{ .NAME }})"),
])
def test_what_cannot_be_expanded_is_an_error_naming_the_flag(text, message):
    context, _ = _context()
    with pytest.raises(SpecError) as info:
        expand(text, context, "--ldflags")
    assert str(info.value) == message


def test_git_names_need_a_work_tree_and_the_tag_a_tag():
    outside, _ = _context(git=None)
    with pytest.raises(SpecError) as info:
        expand("{{ .Git.FullCommit }}", outside, "--ldflags")
    assert str(info.value) == "--ldflags: {{ .Git.FullCommit }} needs a git work tree, and the module is not in one"
    untagged, _ = _context(git=(COMMIT, ""))
    assert expand("{{ .Git.ShortCommit }}", untagged, "x") == "c0ffee1"
    with pytest.raises(SpecError) as info:
        expand("{{ .Git.Tag }}", untagged, "--ldflags")
    assert str(info.value) == "--ldflags: {{ .Git.Tag }}: no tag at HEAD (tag the commit, or use .Git.ShortCommit)"
