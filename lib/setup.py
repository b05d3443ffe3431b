"""Only for the optional C speedups; the project's metadata is in pyproject.toml.

Ingest's hot path has two: ``mlmesh._eventscan`` (an accept-only UserEvent
check on the encoded bytes) and ``mlmesh._deliveries`` (a batch's delivery
reports without a Python frame per record). They are built when a C compiler
and Python's headers are there; when a build fails the install goes on and
ingest runs the same logic in Python, with the same results, more slowly
(``MLMESH_REQUIRE_SPEEDUPS=1`` makes it an error).
"""

from __future__ import annotations

import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    skipped = False

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # no compiler, no headers (or nothing built to copy)
            if not self.skipped:
                self._skip(exc)

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:
            self._skip(exc)

    def _skip(self, exc: Exception) -> None:
        if os.environ.get("MLMESH_REQUIRE_SPEEDUPS") == "1":
            raise exc
        self.skipped = True
        sys.stderr.write(f"mlmesh: C speedups not built ({exc}); the pure-Python paths run\n")


setup(
    ext_modules=[Extension(f"mlmesh.{name}", [f"mlmesh/{name}.c"], extra_compile_args=["-O2"])
                 for name in ("_eventscan", "_deliveries")],
    cmdclass={"build_ext": OptionalBuildExt},
)
