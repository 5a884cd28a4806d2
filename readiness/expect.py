"""`readiness.expect`, kept for the imports that name it: the expectation helper and CheckError, for checks.

The code is in readiness/core/expect.py; this name is that module itself (same object, same attributes).
"""

import sys

from readiness.core import expect as _module

sys.modules[__name__] = _module
