"""The daemon loads what its config uses: no JWT library (and its `cryptography`) without JWT auth."""

from __future__ import annotations

import subprocess
import sys

from tests.support.cli import llmp_env


def test_assembling_the_daemon_leaves_the_jwt_library_alone() -> None:
    probe = ("import sys; import llmp.daemon.main, llmp.daemon.app; "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('jwt', 'cryptography')))")
    process = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                             timeout=60, env=llmp_env())
    assert process.returncode == 0, process.stderr
    assert process.stdout.strip() == "[]"
