"""Fine-tuning services by concern: hyper-parameters, jobs, the run tracker, model versions, the retrieval
index and the role cards. Everything is re-exported here (``from models_ml.finetuning import services``).
"""

from ..models import LOG_TAIL_LINES  # noqa: F401  (the job page's log tail length)
from .common import *  # noqa: F403
from .hyperparams import *  # noqa: F403
from .jobs import *  # noqa: F403
from .retrieval_index import *  # noqa: F403
from .role_cards import *  # noqa: F403
from .tracker import *  # noqa: F403
from .versions import *  # noqa: F403
