"""PyInstaller hook for keyring: carry the backend this OS needs.

keyring finds its backends through entry points at run time, so analysis sees
none of them. Each OS gets its own: the macOS Keychain (ctypes, no extra
package), the Windows Credential Locker (pywin32-ctypes), and the Secret
Service over D-Bus on Linux and the BSDs (secretstorage and jeepney, whose
transports are imported by name).
"""

import sys

from PyInstaller.utils.hooks import collect_submodules, copy_metadata

hiddenimports = collect_submodules("keyring.backends")
datas = copy_metadata("keyring")
if sys.platform == "win32":
    hiddenimports += collect_submodules("win32ctypes")
elif sys.platform != "darwin":
    hiddenimports += collect_submodules("secretstorage") + collect_submodules("jeepney")
