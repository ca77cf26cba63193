"""Typer's help and error panels without loading its Markdown parser and traceback printer first.

`typer.rich_utils`, which draws every `--help` and usage error, imports `rich.markdown`
(markdown-it and its regular expressions) and `rich.traceback` (pygments, rich.pretty,
attrs) at its top: a third of what `llmp --help` cost. It calls them only for help
written in Markdown (llmp's is Rich markup, Typer's default) and to print a crash
(which `llmp.entry` reports through Typer's hook). So while `typer.rich_utils` loads,
those two modules are stand-ins whose one class imports the real one when first used;
then they leave `sys.modules`, and any other `import rich.markdown` gets the real module.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from importlib.abc import Loader
    from importlib.machinery import ModuleSpec

TARGET = "typer.rich_utils"
# The modules Typer's help imports only for one class each, and that class.
DEFERRED = {"rich.markdown": "Markdown", "rich.traceback": "Traceback"}


class DeferredClass(type):
    """A stand-in class: calling it, or asking it for an attribute (`Traceback.from_exception`),
    imports the real module and hands over to the real class."""

    module_name: str

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return cls.real()(*args, **kwargs)

    def __getattr__(cls, name: str) -> Any:
        return getattr(cls.real(), name)

    def real(cls) -> type:
        return getattr(importlib.import_module(cls.module_name), cls.__name__)


class _LoadWithStandIns:  # a loader (`importlib.abc` itself costs more than all of this)
    """Runs the real loader with the stand-in modules in place, then takes them away."""

    def __init__(self, loader: Loader) -> None:
        self.loader = loader

    def create_module(self, spec: ModuleSpec) -> types.ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        module.__loader__ = module.__spec__.loader = self.loader  # the module looks as usual
        placed = {}
        for module_name, class_name in DEFERRED.items():
            if module_name not in sys.modules:  # already loaded for real: nothing to save
                stand_in = types.ModuleType(module_name)
                setattr(stand_in, class_name,
                        DeferredClass(class_name, (), {"module_name": module_name}))
                placed[module_name] = sys.modules[module_name] = stand_in
        try:
            self.loader.exec_module(module)
        finally:
            for module_name, stand_in in placed.items():
                if sys.modules.get(module_name) is stand_in:
                    del sys.modules[module_name]


class _Finder:  # a meta path finder
    """Finds `typer.rich_utils` through the finders after it, then loads it the lean way."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> ModuleSpec | None:
        if fullname != TARGET:
            return None
        sys.meta_path.remove(self)  # one module, loaded once
        for finder in sys.meta_path:
            find_spec = getattr(finder, "find_spec", None)
            spec = find_spec(fullname, path, target) if find_spec is not None else None
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _LoadWithStandIns(spec.loader)
                return spec
        return None


def install() -> None:
    """Make the next import of `typer.rich_utils` (Typer's own, lazy) the lean one."""
    if TARGET not in sys.modules and not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
