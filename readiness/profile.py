"""`readiness.profile`, kept for the imports that name it: profiles and the requirement catalog.

The code is in readiness/core/profile.py; this name is that module itself (same object, same attributes).
"""

import sys

from readiness.core import profile as _module

sys.modules[__name__] = _module
