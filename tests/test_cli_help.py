"""Every command says how it is used: an example, its exit codes, and --json where its output is a
report (a command whose output is itself a document — YAML, a script, an SBOM or a provenance —
prints that document)."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from leango.builder.cli import main

DOCUMENTS = {"resolve", "completion", "sbom", "provenance"}  # their stdout is the document


def _commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))
        else:
            yield (*prefix, name), command


COMMANDS = dict(_commands(main))


def test_the_commands_are_all_here():
    assert {" ".join(path) for path in COMMANDS} >= {"build", "config", "copy", "inspect", "verify", "index create",
                                                     "resolve", "completion", "prune", "login", "logout", "sbom",
                                                     "provenance"}


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_each_command_has_an_example_exit_codes_and_json(path):
    text = CliRunner().invoke(main, [*path, "--help"], terminal_width=200).output
    assert "xample" in text, text  # "Example:" or "For example:"
    assert "leango " + " ".join(path) in text.split("xample", 1)[1]  # the example runs this command
    assert "Exit codes: 0" in text
    options = {opt for p in COMMANDS[path].params for opt in getattr(p, "opts", ())}
    assert ("--json" in options) != (path[-1] in DOCUMENTS), path
