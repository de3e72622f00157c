"""Reading Go's settings with a recording runner: the environment go env gets, its failures said
exactly, and the refusal hints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leango.builder.errors import SpecError, ToolchainError
from leango.builder.goenv import GO_VARS, GoEnv, check_goflags, read_go_env
from leango.builder.runner import Result
from leango.builder.toolchain import Toolchain

TOOLCHAIN = Toolchain(Path("/opt/go"), "go1.27.3")


class Runner:
    def __init__(self, rc=0, stdout="{}", stderr=""):
        self.rc, self.stdout, self.stderr, self.calls = rc, stdout, stderr, []

    def run(self, argv, *, env=None, **kw):
        self.calls.append((list(argv), dict(env or {})))
        return Result(tuple(argv), self.rc, self.stdout, self.stderr)


def test_go_env_gets_only_what_it_reads_and_a_fixed_toolchain():
    runner = Runner(stdout=json.dumps({"GOPROXY": "https://p.example", "GOFLAGS": "-mod=mod"}))
    environ = {"HOME": "/home/u", "GOPROXY": "https://p.example", "AWS_SECRET_ACCESS_KEY": "x",
               "HTTPS_PROXY": "http://proxy:3128", "GOTOOLCHAIN": "auto", "PATH": "/evil"}
    env = read_go_env(runner, TOOLCHAIN, environ)
    ((argv, given),) = runner.calls
    assert argv == ["/opt/go/bin/go", "env", "-json", *GO_VARS]
    assert given == {"HOME": "/home/u", "GOPROXY": "https://p.example", "GOROOT": "/opt/go",
                     "GOTOOLCHAIN": "local", "PATH": "/usr/bin:/bin"}
    assert env.get("GOPROXY") == "https://p.example" and env.get("GOSUMDB") == "" and env.get("NOPE") == ""
    assert dict(env.values)["GOFLAGS"] == "-mod=mod" and len(env.values) == len(GO_VARS)
    assert env.proxies == (("HTTPS_PROXY", "http://proxy:3128"),)


def test_go_env_failures_are_said_exactly():
    with pytest.raises(ToolchainError) as info:
        read_go_env(Runner(rc=1, stderr="warning: x\nwarning: y\ngo: bad GOENV\n"), TOOLCHAIN, {})
    assert str(info.value) == "`go env` failed: go: bad GOENV"
    with pytest.raises(ToolchainError) as info:
        read_go_env(Runner(rc=1, stderr="  "), TOOLCHAIN, {})
    assert str(info.value) == "`go env` failed: "
    with pytest.raises(ToolchainError, match=r"^`go env -json` printed no JSON: "):
        read_go_env(Runner(stdout="not json"), TOOLCHAIN, {})


@pytest.mark.parametrize("goflags", ["-toolexec=/bin/true", "-buildvcs=auto", "--trimpath=false"])
def test_refused_goflags_say_how_to_fix_them(goflags):
    with pytest.raises(SpecError) as info:
        check_goflags(goflags)
    assert str(info.value).startswith(f"GOFLAGS {goflags} is not allowed: it ")
    assert info.value.hint == "remove it from GOFLAGS (go env -w GOFLAGS=...)"


def test_an_empty_go_env():
    assert GoEnv(()).get("GOPROXY") == ""
