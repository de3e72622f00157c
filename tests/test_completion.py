"""`leango completion bash|zsh|fish`: each script, loaded by the shell it is for, completes
commands and the choices of an option (click's mechanism, run through the installed script)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from support.cli import leango, leango_argv
from support.tools import require


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PATH"] = f"{Path(leango_argv()[0]).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _bash(script: str) -> list[str]:
    proc = subprocess.run([require("bash"), "-c", f"source <(leango completion bash); {script}; "
                           'printf "%s\\n" "${COMPREPLY[@]}"'], capture_output=True, text=True, env=_env(), timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_bash_completes_commands_and_choices():
    assert _bash("COMP_WORDS=(leango bu); COMP_CWORD=1; _leango_completion leango") == ["build"]
    assert _bash("COMP_WORDS=(leango in); COMP_CWORD=1; _leango_completion leango") == ["index", "inspect"]
    assert _bash('COMP_WORDS=(leango build --isolation ""); COMP_CWORD=3; _leango_completion leango') == \
        ["auto", "chroot", "none"]
    assert _bash('COMP_WORDS=(leango build --compression z); COMP_CWORD=3; _leango_completion leango') == ["zstd"]
    assert _bash("COMP_WORDS=(leango nothing-like-it); COMP_CWORD=1; _leango_completion leango") == []


def test_fish_completes_commands_and_choices():
    proc = subprocess.run([require("fish"), "-c", "leango completion fish | source; complete -C 'leango bu'; "
                           "complete -C 'leango build --isolation '"], capture_output=True, text=True, env=_env(),
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split("\t")[0] == "build" and lines[1:] == ["auto", "chroot", "none"]


def test_zsh_loads_its_script_and_the_protocol_it_calls_answers():
    proc = subprocess.run([require("zsh"), "-c", "autoload -U compinit && compinit -u -D && "
                           "source <(leango completion zsh) && whence -w _leango_completion"],
                          capture_output=True, text=True, env=_env(), timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "_leango_completion: function", proc.stderr
    answer = subprocess.run(leango_argv(), capture_output=True, text=True, timeout=60,
                            env={**_env(), "COMP_WORDS": "leango build --isolation ", "COMP_CWORD": "3",
                                 "_LEANGO_COMPLETE": "zsh_complete"})
    assert answer.stdout.split("\n")[:6] == ["plain", "auto", "_", "plain", "chroot", "_"]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_each_script_names_leango_s_completion_variable(shell):
    assert "_LEANGO_COMPLETE" in leango("completion", shell).stdout


def test_an_unknown_shell_is_bad_input():
    proc = leango("completion", "powershell", check=False)
    assert proc.returncode == 2 and "'powershell' is not one of 'bash', 'zsh', 'fish'" in proc.stderr
