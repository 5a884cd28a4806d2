"""`readiness.process`, kept for the imports that name it: child processes tied to their parent.

The code is in readiness/core/process.py; this name is that module itself (same object, same attributes).
"""

import sys

from readiness.core import process as _module

sys.modules[__name__] = _module
