"""`stylegan.apis`, the import path of the MMGeneration-style entry points (defined in `stylegan.compat.apis`)."""
from .compat.apis import *  # noqa: F401,F403
from .compat.apis import __all__  # noqa: F401
