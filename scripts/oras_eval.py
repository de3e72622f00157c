"""oras-py's push against the checks leango's registry client passes, measured side by side.

Each case pushes the same file as an ORAS-style artifact (one layer, titled) with
oras-py's `oras.provider.Registry.push` and with leango's push engine, each in a
child process with a time limit (so a hang is measured, not waited for), and
verifies what reached the registry. Writes docs/oras.md.

    scripts/oras-eval [--runs 10] [--big-mb 500]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from support.fakeregistry import Behaviour, FakeRegistry
from support.faultproxy import Fault, FaultProxy
from support.registry import PASSWORD, USER, RealRegistry, make_htpasswd
from support.tlsca import make_ca

CHILD = r"""
import json, os, sys, time
from pathlib import Path
tool, host, repo, path, mode = sys.argv[1:6]
secure = mode.startswith("tls:")
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
start = time.monotonic()
try:
    if tool == "oras":
        import oras.provider
        reg = oras.provider.Registry(hostname=host, insecure=not secure,
                                     tls_verify=mode[4:] if secure else False)
        os.chdir(Path(path).parent)
        resp = reg.push(target=f"{host}/{repo}:v1", files=[Path(path).name], quiet=True)
        ok = resp.status_code in (200, 201)
    else:
        from leango.oci import Blob, Descriptor, Digest, parse_reference
        from leango.oci.manifest import Manifest
        from leango.oci.registry.credentials import CredentialSources
        from leango.oci.registry.transport import RegistryOptions
        from leango.oci.sinks.registry import push
        with open(path, "rb") as src:
            digest, size = Digest.of_stream(src)
        layer = Blob(Descriptor("application/vnd.oci.image.layer.v1.tar", digest, size,
                                (("org.opencontainers.image.title", Path(path).name),)), path=Path(path))
        art = Manifest("application/vnd.leango.eval", (layer,))
        sources = CredentialSources.from_environ(os.environ, Path.home(), os.getuid())
        opts = RegistryOptions(ca_file=Path(mode[4:]) if secure else None, read_timeout=10)
        push(art, [parse_reference(f"{host}/{repo}:v1")], credentials=sources, options=opts)
        ok = True
    print(json.dumps({"ok": ok, "seconds": time.monotonic() - start, "peak_kib": hwm()}))
except BaseException as exc:
    print(json.dumps({"ok": False, "seconds": time.monotonic() - start, "peak_kib": hwm(),
                      "error": f"{type(exc).__name__}: {str(exc)[:160]}"}))
"""


def run_child(tool: str, host: str, repo: str, path: Path, mode: str = "plain", env=None,
              limit: float = 120) -> dict:
    start = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-P", "-c", CHILD, tool, host, repo, str(path), mode],
                              capture_output=True, text=True, timeout=limit, env=env or dict(os.environ),
                              cwd=path.parent)
    except subprocess.TimeoutExpired:
        return {"ok": False, "seconds": time.monotonic() - start, "error": f"hung: killed after {limit:.0f} s"}
    lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    if not lines:
        return {"ok": False, "seconds": time.monotonic() - start, "error": proc.stderr.strip()[-200:]}
    return json.loads(lines[-1])


def stored(registry_host: str, repo: str, path: Path, verify=False, auth=None) -> bool:
    """The registry holds a manifest at :v1 whose one layer is the file's bytes."""
    scheme = "https" if verify else "http"
    headers = {"Accept": "application/vnd.oci.image.manifest.v1+json"}
    r = requests.get(f"{scheme}://{registry_host}/v2/{repo}/manifests/v1", headers=headers, verify=verify,
                     auth=auth, timeout=30)
    if r.status_code != 200:
        return False
    layer = r.json()["layers"][0]["digest"]
    want = "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    if layer != want:
        return False
    blob = requests.get(f"{scheme}://{registry_host}/v2/{repo}/blobs/{layer}", verify=verify, auth=auth,
                        timeout=60)
    return blob.status_code == 200 and "sha256:" + hashlib.sha256(blob.content).hexdigest() == want


def case_chaos(reg: RealRegistry, small: Path, runs: int, rate: float) -> dict:
    out = {}
    for tool in ("leango", "oras"):
        wins, times = 0, []
        for i in range(runs):
            proxy = FaultProxy(reg.host)
            proxy.chaos(rate, seed=i)
            repo = f"chaos/{tool}{i}"
            res = run_child(tool, proxy.host, repo, small, limit=180)
            proxy.close()
            wins += bool(res["ok"] and stored(reg.host, repo, small))
            times.append(res["seconds"])
        out[tool] = f"{wins} of {runs} (slowest {max(times):.0f} s)"
    return out


def case_stall(reg: RealRegistry, small: Path) -> dict:
    out = {}
    for tool in ("leango", "oras"):
        proxy = FaultProxy(reg.host)
        proxy.add(Fault("PUT", "/blobs/uploads/", "stall", stall=600))
        res = run_child(tool, proxy.host, f"stall/{tool}", small, limit=90)
        proxy.close()
        ok = res["ok"] and stored(reg.host, f"stall/{tool}", small)
        out[tool] = (f"pushed in {res['seconds']:.0f} s" if ok else res.get("error", "failed"))
    return out


def case_memory(reg: RealRegistry, big: Path) -> dict:
    out = {}
    for tool in ("leango", "oras"):
        res = run_child(tool, reg.host, f"big/{tool}", big, limit=600)
        ok = res["ok"] and stored(reg.host, f"big/{tool}", big)
        out[tool] = (f"{res['peak_kib'] / 1024:.0f} MiB" + ("" if ok else f" (failed: {res.get('error')})"))
    return out


def case_auth_json(secure: RealRegistry, ca: Path, small: Path, work: Path) -> dict:
    home = work / "home"
    (home / ".docker").mkdir(parents=True, exist_ok=True)
    auth = work / "auth.json"
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    auth.write_text(json.dumps({"auths": {secure.host: {"auth": token}}}))
    env = {**os.environ, "HOME": str(home), "REGISTRY_AUTH_FILE": str(auth)}
    env.pop("DOCKER_CONFIG", None)
    out = {}
    for tool in ("leango", "oras"):
        res = run_child(tool, secure.host, f"auth/{tool}", small, mode=f"tls:{ca}", env=env)
        ok = res["ok"] and stored(secure.host, f"auth/{tool}", small, verify=str(ca), auth=(USER, PASSWORD))
        out[tool] = "pushed" if ok else f"failed: {res.get('error', '')[:90]}"
    return out


def case_realm_elsewhere(small: Path, work: Path) -> dict:
    """The token realm on another host name (localhost) than the registry (127.0.0.1)."""
    out = {}
    for tool in ("leango", "oras"):
        fake = FakeRegistry(Behaviour(auth="bearer", users={USER: PASSWORD}))
        fake.b.realm = f"http://localhost:{fake.server.server_address[1]}/token"
        home = work / f"realm-{tool}"
        (home / ".docker").mkdir(parents=True, exist_ok=True)
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        (home / ".docker" / "config.json").write_text(json.dumps({"auths": {fake.host: {"auth": token}}}))
        env = {**os.environ, "HOME": str(home), "DOCKER_CONFIG": str(home / ".docker")}
        res = run_child(tool, fake.host, f"realm/{tool}", small, env=env)
        realm_calls = len(fake.token_requests)
        fake.close()
        out[tool] = ("pushed" if res["ok"] else f"failed: {res.get('error', '')[:90]}") + \
            f" ({realm_calls} token request(s))"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--rate", type=float, default=0.3)
    parser.add_argument("--big-mb", type=int, default=500)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "docs" / "oras.md")
    args = parser.parse_args()
    import oras.version
    with tempfile.TemporaryDirectory(prefix="oras-eval-") as tmp:
        work = Path(tmp)
        small, big = work / "small.bin", work / "big.bin"
        small.write_bytes(os.urandom(4 << 20))
        with open(big, "wb") as f:
            for _ in range(args.big_mb):
                f.write(os.urandom(1 << 20))
        reg = RealRegistry(work / "registry")
        ca = make_ca(work / "ca")
        secure = RealRegistry(work / "secure", tls=(ca.server_cert, ca.server_key),
                              htpasswd=make_htpasswd(work / "htpasswd", USER, PASSWORD))
        try:
            rows = [
                (f"{args.runs} pushes through a proxy failing {args.rate:.0%} of requests (5xx, 429, resets)",
                 case_chaos(reg, small, args.runs, args.rate)),
                ("registry stalls on the first blob PUT (child killed after 90 s)", case_stall(reg, small)),
                (f"peak RSS (VmHWM) pushing a {args.big_mb} MB layer", case_memory(reg, big)),
                ("credentials only in a containers auth.json ($REGISTRY_AUTH_FILE), TLS with a private CA",
                 case_auth_json(secure, ca.ca_cert, small, work)),
                ("bearer token realm on another host name than the registry", case_realm_elsewhere(small, work)),
            ]
        finally:
            reg.stop()
            secure.stop()
    write_report(args.out, rows, oras.version.__version__)
    print(args.out.read_text())


def write_report(out: Path, rows, oras_version: str) -> None:
    table = "\n".join(f"| {what} | {r['leango']} | {r['oras']} |" for what, r in rows)
    text = (Path(__file__).resolve().parent / "oras_eval_template.md").read_text()
    out.write_text(text.replace("{ORAS_VERSION}", oras_version).replace("{TABLE}", table)
                   .replace("{DATE}", time.strftime("%Y-%m-%d")))


if __name__ == "__main__":
    main()
