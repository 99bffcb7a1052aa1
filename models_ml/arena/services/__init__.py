"""Arena services by concern: simulation, human arena, LLM judge, generation evaluation, labelling.

Everything is re-exported here, so ``from models_ml.arena import services`` keeps working.
"""

from .common import *  # noqa: F403
from .common import (  # noqa: F401  (private helpers used by the other modules and tests)
    _check_version,
    _claim,
    _counselor_bot,
    _dispatch,
    _finish,
    _queue,
)
from .evaluation import *  # noqa: F403
from .human import *  # noqa: F403
from .judge import *  # noqa: F403
from .labelling import *  # noqa: F403
from .simulation import *  # noqa: F403
