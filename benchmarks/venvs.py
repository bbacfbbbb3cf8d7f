"""The peers' virtual environments under ``benchmarks/.venvs/``, created from PyPI when missing.

Each peer gets its own venv with pinned versions (they need pandas < 3, which the
project does not use). A venv is reused while its recorded requirements match, so
re-runs are incremental; a peer that fails to install is reported, not fatal.
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

VENV_DIR = Path(__file__).resolve().parent / ".venvs"
_COMMON = ["pandas==2.3.3", "numpy==2.4.6", "pyarrow==26.0.1"]
PEERS: dict[str, list[str]] = {
    "evidently": ["evidently==0.7.23", *_COMMON],
    "whylogs": ["whylogs==1.6.4", *_COMMON],
    "nannyml": ["nannyml==0.13.1", "statsmodels==0.15.0", *_COMMON],
}
MARKER = ".benchmark-requirements"


def python_of(name: str, venv_dir: Path = VENV_DIR) -> Path:
    """The interpreter of peer ``name``'s venv (which may not exist yet)."""
    return venv_dir / name / "bin" / "python"


def installed(name: str, venv_dir: Path = VENV_DIR) -> bool:
    """Whether peer ``name``'s venv exists with exactly the pinned requirements."""
    marker = venv_dir / name / MARKER
    return marker.is_file() and marker.read_text() == "\n".join(PEERS[name])


def ensure(name: str, venv_dir: Path = VENV_DIR) -> str | None:
    """Create or update peer ``name``'s venv when needed; None (with the log's tail
    on stderr) when it does not install."""
    if name not in PEERS:
        raise ValueError(f"unknown peer {name!r} (valid: {', '.join(PEERS)})")
    if installed(name, venv_dir):
        return str(python_of(name, venv_dir))
    folder = venv_dir / name
    log = venv_dir / f"{name}.log"
    folder.parent.mkdir(parents=True, exist_ok=True)
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(folder)],
        [str(python_of(name, venv_dir)), "-m", "pip", "install", "--quiet", *PEERS[name]],
    ]
    with log.open("w") as out:
        for step in steps:
            if subprocess.run(step, stdout=out, stderr=subprocess.STDOUT).returncode != 0:
                tail = log.read_text()[-1500:]
                print(f"[bench] {name} did not install (see {log}):\n{tail}", file=sys.stderr)
                return None
    (folder / MARKER).write_text("\n".join(PEERS[name]))
    return str(python_of(name, venv_dir))


def ensure_all(create: bool = True, venv_dir: Path = VENV_DIR) -> dict[str, str | None]:
    """Every peer's interpreter (None when missing); installs run in parallel when ``create``."""
    if not create:
        return {
            name: str(python_of(name, venv_dir)) if installed(name, venv_dir) else None
            for name in PEERS
        }
    with ThreadPoolExecutor(max_workers=len(PEERS)) as pool:
        pythons = pool.map(lambda name: ensure(name, venv_dir), PEERS)
        return dict(zip(PEERS, pythons, strict=True))
