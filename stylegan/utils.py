"""`stylegan.utils`, the import path of the notebook and mmcv-style helpers (defined in `stylegan.compat.utils`)."""
from .compat.utils import *  # noqa: F401,F403
from .compat.utils import __all__  # noqa: F401
