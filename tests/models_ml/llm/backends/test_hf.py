import pytest
import torch

from models_ml.llm.backends import (
    ERR_ADAPTER_NOT_FOUND,
    ERR_MODEL_NOT_FOUND,
    GenerationBackend,
    ModelNotFoundError,
    get_backend,
)
from models_ml.llm.backends.hf import ERR_MERGE_4BIT, HFBackend

pytestmark = pytest.mark.slow

MESSAGES = [
    {"role": "system", "content": "あなたはカウンセラーです。"},
    {"role": "user", "content": "最近、仕事のことで夜あまり眠れなくて。"},
]
GREEDY = {"do_sample": False, "max_new_tokens": 10, "min_new_tokens": 10}


@pytest.fixture(scope="module")
def backend(qlora_run, tiny_base_model):
    torch.set_num_threads(1)
    return get_backend(
        {"backend": "hf", "base_model": str(tiny_base_model), "adapter_path": qlora_run["result"].adapter_dir}
    )


def test_hf_backend_loads_trained_adapter_4bit_only_on_cuda(backend):
    backend.load()
    from peft import PeftModel

    assert isinstance(backend._model, PeftModel)
    assert bool(getattr(backend._model, "is_loaded_in_4bit", False)) == torch.cuda.is_available()
    assert isinstance(backend, GenerationBackend)


def test_hf_backend_streams_several_deltas_that_join_to_the_full_reply(backend):
    deltas = list(backend.stream(MESSAGES, **GREEDY))
    assert len(deltas) >= 3
    assert all(isinstance(d, str) and d for d in deltas)
    assert "".join(deltas) == backend.generate(MESSAGES, **GREEDY)


def test_adapter_changes_the_reply_compared_to_the_base_model(backend, tiny_base_model):
    base = HFBackend(str(tiny_base_model))
    # Same greedy decoding; the trained LoRA shifts the logits (a tiny random model may still agree, so compare logits).
    backend.load()
    base.load()
    inputs = base._tokenizer.apply_chat_template(
        MESSAGES, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    with torch.no_grad():
        a = backend._model(**inputs).logits
        b = base._model(**inputs).logits
    assert not torch.allclose(a, b)


def test_missing_model_directory_is_a_clear_error(tmp_path):
    with pytest.raises(ModelNotFoundError) as exc:
        HFBackend(str(tmp_path / "missing"))
    assert str(exc.value) == ERR_MODEL_NOT_FOUND.format(path=str(tmp_path / "missing"))


def test_missing_adapter_directory_is_a_clear_error(tiny_base_model, tmp_path):
    with pytest.raises(ModelNotFoundError) as exc:
        HFBackend(str(tiny_base_model), adapter_path=str(tmp_path))
    assert str(exc.value) == ERR_ADAPTER_NOT_FOUND.format(path=str(tmp_path))


def test_merged_adapter_gives_the_same_logits_as_the_separate_adapter(backend, tiny_base_model, qlora_run):
    merged = HFBackend(str(tiny_base_model), qlora_run["result"].adapter_dir, load_in_4bit=False, merge_adapter=True)
    merged.load()
    backend.load()
    from peft import PeftModel

    assert not isinstance(merged._model, PeftModel)  # one weight per projection: the LoRA is folded in
    inputs = merged.encode(MESSAGES)
    with torch.no_grad():
        a = merged._model(**inputs).logits
        b = backend._model(**inputs).logits
    assert torch.allclose(a, b, atol=1e-4)


def test_static_cache_backend_generates_the_same_greedy_reply(backend, tiny_base_model, qlora_run):
    static = HFBackend(str(tiny_base_model), qlora_run["result"].adapter_dir, load_in_4bit=False, static_cache=True)
    assert static.model.generation_config.cache_implementation == "static"
    assert static.generate(MESSAGES, **GREEDY) == backend.generate(MESSAGES, **GREEDY)


def test_merging_into_a_4bit_base_is_refused(tiny_base_model, qlora_run):
    quantised = HFBackend(str(tiny_base_model), qlora_run["result"].adapter_dir, load_in_4bit=True, merge_adapter=True)
    with pytest.raises(ValueError) as exc:
        quantised.load()
    assert str(exc.value) == ERR_MERGE_4BIT
