"""Django-free ML core for the KokoroChat LLM features: QLoRA fine-tuning (response generation and score
prediction), generation backends (hf / openai / retrieval), AI-partner rules and role cards.

Importing this package is cheap: torch, transformers, peft, trl and bitsandbytes are imported inside the
functions that need them.
"""

from .config import JobConfig, QLoRAConfig, TrainingConfig, get_peft_config, get_quantization_config, get_training_args

__all__ = [
    "JobConfig",
    "QLoRAConfig",
    "TrainingConfig",
    "get_peft_config",
    "get_quantization_config",
    "get_training_args",
]
