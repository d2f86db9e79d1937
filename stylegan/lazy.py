"""Package interfaces that import a module only when one of its names is first used, so that `import
stylegan`, the command line's option lists and `stylegan --help` need neither torch nor numpy."""
from __future__ import annotations

import importlib
import sys
from typing import Any, Callable


def exports(package: str, names: dict[str, str]) -> Callable[[str], Any]:
    """A module-level `__getattr__` for `package`: `names` maps each public name to the module that defines it
    ('module' or 'module:attribute', relative to `package`: '.models.mapping' is a sibling package's module);
    the value is imported and kept on first use."""
    def __getattr__(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, _, attribute = names[name].partition(":")
        value = getattr(importlib.import_module(f".{module}", package), attribute or name)
        setattr(sys.modules[package], name, value)
        return value
    return __getattr__
