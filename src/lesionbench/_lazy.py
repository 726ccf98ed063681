"""Lazy package attributes (PEP 562), so that importing a stage package imports no science.

A stage package's ``__init__`` lists its public names by the submodule that defines them and
gets its module ``__getattr__``/``__dir__`` from :func:`lazy_exports`: ``lesionbench.consensus.fuse``
imports :mod:`lesionbench.consensus.fusion` on first use (and ``package.submodule`` imports the
submodule), while ``import lesionbench.consensus.cli``
(what ``lesionbench consensus --help`` does) runs no numpy. The same names are imported under
``if TYPE_CHECKING:`` in the ``__init__`` so that type checkers and editors see them;
``tests/test_house_imports.py`` checks the three lists agree.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping


def lazy_exports(
    package: str, exports: Mapping[str, tuple[str, ...]]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package`` whose ``exports`` map submodule -> public names."""
    owner = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> object:
        module = owner.get(name)
        if module is None:
            # ``package.submodule`` without importing it first, as an eager ``__init__`` allowed
            if not name.startswith("_") and importlib.util.find_spec(f"{package}.{name}") is not None:
                return importlib.import_module(f"{package}.{name}")
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(importlib.import_module(package), name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(importlib.import_module(package)), *owner})

    return __getattr__, __dir__
