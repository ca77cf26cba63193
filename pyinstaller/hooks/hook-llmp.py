"""PyInstaller hook for llmp itself.

llmp imports most of itself lazily (the CLI loads a command's module only when
that command runs; the daemon picks adapters from the registry), so static
analysis of the entry script sees only a part of it: every submodule is listed
here. The package's metadata goes along so `importlib.metadata` answers inside
the bundle (the spec drops `direct_url.json`, which names the build folder).
"""

from PyInstaller.utils.hooks import collect_data_files, collect_submodules, copy_metadata

hiddenimports = collect_submodules("llmp")
datas = collect_data_files("llmp") + copy_metadata("llmp")
