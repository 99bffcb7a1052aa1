import pytest

from models_ml.llm.backends import (
    BACKENDS,
    DEFAULT_BACKEND,
    ERR_UNKNOWN_BACKEND,
    BackendConfigError,
    GenerationError,
    get_backend,
)


def test_unknown_backend_name_is_a_clear_error():
    with pytest.raises(BackendConfigError) as exc:
        get_backend({"backend": "gpt"})
    assert str(exc.value) == ERR_UNKNOWN_BACKEND.format(backend="gpt", known=", ".join(BACKENDS))
    assert isinstance(exc.value, GenerationError)


def test_retrieval_is_the_default_backend():
    assert DEFAULT_BACKEND == "retrieval"
    records = [
        {
            "dialogue": [
                {"role": "client", "utterance": "眠れません。"},
                {"role": "counselor", "utterance": "つらいですね。"},
            ],
            "score": 80,
        }
    ]
    assert get_backend({"records": records}).name == "retrieval"
