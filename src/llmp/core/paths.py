"""Where llmp keeps its files.

`LLMP_HOME` puts everything in one folder (tests and portable installs rely on
it); otherwise each kind of file goes where the platform expects it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "llmp"
#: Bytes of `daemon.out` one daemon run may write (its own output past that is dropped); a
#: file over it is moved to `daemon.out.1` at the next start, so two runs' worth is kept.
DAEMON_OUTPUT_LIMIT = 1 << 20


class UnwritableHome(OSError):
    """llmp cannot create or write one of its own files or folders.

    Raised instead of the bare OSError so the entry point can say, in one line, which path and
    what to do about it (a read-only home, or one under a file), rather than show a traceback.
    It stays an OSError: code that already handles a failed write goes on handling it.
    """

    def __str__(self) -> str:
        return (f"cannot write {self.filename} ({self.strerror}): choose a folder you can write "
                "(LLMP_HOME puts all of llmp's files in one) or fix its permissions")


def unwritable(path: Path | str, cause: OSError) -> UnwritableHome:
    return UnwritableHome(cause.errno, cause.strerror or str(cause), str(path))


def make_private_folder(folder: Path) -> None:
    """Create `folder` (and its parents) readable by its owner only, if it is not there yet."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise unwritable(folder, exc) from None


@dataclass(frozen=True)
class Paths:
    config_dir: Path
    state_dir: Path
    log_dir: Path
    data_dir: Path
    cache_dir: Path

    @property
    def default_config_file(self) -> Path:
        return self.config_dir / "config.yaml"

    @property
    def state_file(self) -> Path:
        return self.state_dir / "daemon.json"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "llmp.log"

    @property
    def daemon_output_file(self) -> Path:
        """Where the detached daemon's stdout/stderr go, so a crash at start-up is visible."""
        return self.log_dir / "daemon.out"

    @property
    def unpack_dir(self) -> Path:
        """Where a one-file build's daemon unpacks itself (see core/unpacked.py)."""
        return self.cache_dir / "unpacked"

    @property
    def usage_db(self) -> Path:
        return self.data_dir / "usage.sqlite3"

    @property
    def cache_db(self) -> Path:
        return self.data_dir / "cache.sqlite3"

    def ensure(self) -> None:
        """Create the folders, readable by their owner only: logs and usage hold prompts and costs.

        A folder made before (by an older llmp, by hand, or under a loose umask) that others
        can read is tightened, with a warning: it may already have been read.
        """
        for folder in (self.config_dir, self.state_dir, self.log_dir, self.data_dir):
            make_private_folder(folder)
            mode = folder.stat().st_mode & 0o777
            if mode & 0o077 and os.name == "posix":
                try:
                    os.chmod(folder, 0o700)
                except OSError as exc:
                    raise unwritable(folder, exc) from None
                import logging  # here: every CLI command resolves paths, few ever warn

                logging.getLogger("llmp").warning(
                    "%s was readable by others (mode %o); it is now the owner's only (700)",
                    folder, mode)


def resolve_paths() -> Paths:
    home = os.environ.get("LLMP_HOME")
    if home:
        root = Path(home).expanduser()
        return Paths(root, root, root / "logs", root, root / "cache")
    import platformdirs

    return Paths(
        config_dir=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
        state_dir=Path(platformdirs.user_state_dir(APP_NAME, appauthor=False)),
        log_dir=Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)),
        data_dir=Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
        cache_dir=Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
    )


def config_file_from_env(paths: Paths, flag: str | None = None) -> Path:
    """The config file to read: `--config` beats `LLMP_CONFIG` beats the default location."""
    chosen = flag or os.environ.get("LLMP_CONFIG")
    return Path(chosen).expanduser() if chosen else paths.default_config_file
