"""Vega, Vega-Lite and Vega-Embed as one JavaScript bundle (inlined in every report), and PNG
rendering without a browser, both from vl-convert (Vega's own converter, Rust + Deno).

Building the bundle takes about 10 s, so it is built once per vl-convert version and kept in
``$MONITORING_CACHE_DIR`` (default ``$XDG_CACHE_HOME/monitoring_pipelines``, else
``~/.cache/monitoring_pipelines``).
"""

from __future__ import annotations

import os
import tempfile
from functools import cache
from importlib.metadata import version
from pathlib import Path


def cache_dir() -> Path:
    explicit = os.environ.get("MONITORING_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "monitoring_pipelines"


@cache
def javascript_bundle() -> str:
    """The minified Vega + Vega-Lite + Vega-Embed bundle (about 0.9 MB)."""
    path = cache_dir() / f"vega-bundle-{version('vl-convert-python')}.js"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        pass
    import vl_convert

    bundle = vl_convert.javascript_bundle()
    try:  # write-then-rename: a concurrent reader never sees half a bundle
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=path.parent, delete=False, suffix=".tmp"
        ) as handle:
            handle.write(bundle)
        Path(handle.name).replace(path)
    except OSError:
        pass  # an unwritable cache only costs the next report the build time again
    return bundle


def to_png(spec: dict, scale: float = 1.0) -> bytes:
    """A Vega-Lite spec drawn as PNG (no browser needed)."""
    import vl_convert

    return vl_convert.vegalite_to_png(spec, scale=scale)
