"""What the CLI prints: one line per image reference (or digest), or JSON; TTY upload progress."""

from __future__ import annotations

import logging
import sys
import threading
from typing import TYPE_CHECKING, Any

import click

from .pipeline import BuildResult, ImageBuild

if TYPE_CHECKING:
    from ..oci.sinks.registry import PushResult

log = logging.getLogger("leango")


def build_json(build: ImageBuild, toolchain: str) -> dict[str, Any]:
    art = build.artifact
    return {
        "binary": build.binary,
        "package": build.package,
        "digest": str(art.digest),
        "mediaType": art.descriptor.media_type,
        "references": [str(r) for r in build.references],
        "toolchain": toolchain,
        "outputs": build.outputs,
        "images": [{
            "platform": str(img.config.platform),
            "digest": str(img.digest),
            "config": str(img.config_descriptor.digest),
            "layers": [{"digest": str(l.digest), "size": l.size, "mediaType": l.media_type}
                       for l in img.layers],
        } for img in art.images()],
        "pushed": [push_json(p) for p in build.pushed],
        "loaded": [{"store": r.kind, "where": r.location, "references": [str(n) for n in r.references]}
                   for r in build.written if r.kind in ("podman", "containerd")],
    }


def result_json(result: BuildResult) -> dict[str, Any]:
    """One image: its object. Several: {"builds": [one object per image]}."""
    objects = [build_json(b, result.toolchain.version) for b in result.builds]
    return objects[0] if len(objects) == 1 else {"builds": objects, "toolchain": result.toolchain.version}


def push_json(pushed: PushResult) -> dict[str, Any]:
    report = pushed.report
    return {"reference": str(pushed.reference), "blobsUploaded": report.count("uploaded"),
            "bytesUploaded": report.bytes_uploaded, "blobsExisting": report.count("exists"),
            "blobsMounted": report.count("mounted")}


def report(result: BuildResult, as_json: bool) -> None:
    import json
    for build in result.builds:
        for pushed in build.pushed:
            r = pushed.report
            log.info("pushed %s: %d blob(s) uploaded (%s), %d already present, %d mounted",
                     pushed.reference, r.count("uploaded"), human(r.bytes_uploaded),
                     r.count("exists"), r.count("mounted"))
    if as_json:
        click.echo(json.dumps(result_json(result), indent=2, sort_keys=True))
        return
    for build in result.builds:
        if not build.references:
            click.echo(str(build.digest) if len(result.builds) == 1 else f"{build.binary} {build.digest}")
        for ref in build.references:
            click.echo(str(ref))


def human(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


class Progress:
    """The build's stages (resolve, download, compile, assemble, write, upload) and each blob's
    upload with its size and rate, drawn on stderr by rich while the build runs. The CLI makes one
    only when stderr is a terminal and not --quiet; the log lines print above it. Called as the
    registry client's progress callback (digest, bytes sent, total); stage(name, detail) from the
    pipeline. Used as a context manager (or start(), then finish())."""

    def __init__(self, stream: Any = None, force_terminal: bool | None = None) -> None:
        from rich.console import Console
        from rich.progress import Progress as Display
        from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn
        self._console = Console(file=stream if stream is not None else sys.stderr, stderr=stream is None,
                                force_terminal=force_terminal)
        self._display = Display(SpinnerColumn(), TextColumn("{task.description}"), _Transfer(), TimeElapsedColumn(),
                                console=self._console, transient=True, redirect_stdout=False, redirect_stderr=False)
        self._lock = threading.Lock()
        self._stage: Any = None
        self._uploads: dict[str, Any] = {}
        self._rerouted: list[tuple[logging.StreamHandler, Any]] = []
        self._started = False

    def start(self) -> None:
        self._display.start()
        self._started = True
        # The log lines go through rich's console, above the display, not through it.
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream in (sys.stderr, sys.__stderr__):
                self._rerouted.append((handler, handler.setStream(_ConsoleWriter(self._console))))

    def finish(self) -> None:
        if self._started:
            self._display.refresh()  # what finished since the last frame is drawn once
            self._display.stop()
            self._started = False
        for handler, stream in self._rerouted:
            handler.setStream(stream)
        self._rerouted.clear()

    def __enter__(self) -> Progress:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.finish()

    def stage(self, name: str, detail: str = "") -> None:
        text = f"{name}: {detail}" if detail else name
        with self._lock:
            if self._stage is None:
                self._stage = self._display.add_task(text, total=None)
            else:
                self._display.update(self._stage, description=text)
            for digest, task in list(self._uploads.items()):  # the last stage's finished uploads go
                if self._display.tasks[self._index(task)].finished:
                    self._display.remove_task(task)
                    del self._uploads[digest]

    def __call__(self, digest: str, sent: int, total: int) -> None:
        with self._lock:
            task = self._uploads.get(digest)
            if task is None:
                task = self._uploads[digest] = self._display.add_task(f"upload {digest[7:19]}", total=total)
            self._display.update(task, completed=sent, total=total)  # shown done until the next stage


    def _index(self, task: Any) -> int:
        return next(i for i, t in enumerate(self._display.tasks) if t.id == task)


class _ConsoleWriter:
    """A stream for a logging handler that prints through a rich console (above a live display)."""

    def __init__(self, console: Any) -> None:
        self._console = console

    def write(self, text: str) -> None:
        self._console.print(text, end="", markup=False, highlight=False, emoji=False, soft_wrap=True)

    def flush(self) -> None:
        pass


def _transfer_column() -> Any:
    from rich.progress import ProgressColumn
    from rich.text import Text

    class Transfer(ProgressColumn):
        """Bytes done of the total and the rate, for a task that has a size (an upload)."""

        def render(self, task: Any) -> Text:
            if task.total is None:
                return Text("")
            elapsed = task.elapsed or 0
            rate = task.finished_speed or task.speed or (task.completed / elapsed if elapsed > 0 else 0)
            return Text(f"{human(task.completed)}/{human(task.total)}" + (f" {human(rate)}/s" if rate else ""))
    return Transfer()


_Transfer = _transfer_column
