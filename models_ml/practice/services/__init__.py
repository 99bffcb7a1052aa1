"""AI practice services by concern: bot accounts, sessions, replies. Everything is re-exported here
(``from models_ml.practice import services``); patch ``services.replies`` for the reply internals.
"""

from .bots import *  # noqa: F403
from .common import *  # noqa: F403
from .replies import *  # noqa: F403
from .replies import _queue_for  # noqa: F401  (tests)
from .sessions import *  # noqa: F403
