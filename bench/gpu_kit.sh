#!/usr/bin/env bash
# Issue 6's GPU benchmarks in one call of a GPU machine that cannot reach any registry.
#
#   bash bench/gpu_kit.sh fetch          # here: the wheels the GPU image lacks -> .whl/ (git-ignored)
#   bash bench/gpu_kit.sh run "$OUT" [STEP ...]   # there (carry .whl): unpack them, run the steps, JSON into $OUT
#   bash bench/gpu_kit.sh smoke [OUT [STEP ...]]  # here: the steps on the tiny model and the CPU (checks the kit)
#
# The GPU image has torch, accelerate, tokenizers, safetensors, pyarrow and pandas but not bitsandbytes, peft,
# TRL, datasets or Django (feedback.items names the 20 items), and an older transformers. The versions fetched
# are the ones in this project's .venv, i.e. the ones the test suite ran. bitsandbytes is cut down to its
# CUDA 12.8/13.x libraries so that everything travels inside the 64 MiB a call may carry.
set -euo pipefail
cd "$(dirname "$0")/.."
WHL=.whl
PY=${PY:-python3}
PACKAGES="bitsandbytes peft trl transformers datasets dill multiprocess fsspec django asgiref sqlparse"

fetch() {
    rm -rf "$WHL" && mkdir -p "$WHL"
    local pins
    pins=$(.venv/bin/python - $PACKAGES <<'EOF'
import sys
from importlib.metadata import version
print(" ".join(f"{name}=={version(name)}" for name in sys.argv[1:]))
EOF
)
    echo "fetching: $pins"
    # shellcheck disable=SC2086
    $PY -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 \
        -d "$WHL" $pins
    local bnb
    bnb=$(ls "$WHL"/bitsandbytes-*.whl)
    # Only the CUDA 12.8 / 13.x kernels: the others (CUDA 11-12.6, ROCm) are 100 MB the H100/H200 image never loads.
    zip -q -d "$bnb" 'bitsandbytes/libbitsandbytes_rocm*' 'bitsandbytes/libbitsandbytes_cuda11*' \
        'bitsandbytes/libbitsandbytes_cuda12[0-7]*'
    du -ch "$WHL"/*.whl | tail -1
}

unpack() {
    local site=$1
    mkdir -p "$site"
    for w in "$WHL"/*.whl; do $PY -m zipfile -e "$w" "$site"; done
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
}

# vLLM, when the machine has it, serves the same random checkpoint (bf16) and is measured as an
# OpenAI-compatible endpoint, i.e. what the `openai` backend sees.
vllm_step() {
    local out=$1 model_dir=$2 new_tokens=$3 runs=$4 port=8011
    if ! $PY -c "import vllm" 2>/dev/null; then
        echo '{"benchmark": "vllm_generate", "skipped": "vllm is not installed on this machine"}' |
            tee "$out/vllm_generate.json"
        return
    fi
    $PY -m vllm.entrypoints.openai.api_server --model "$model_dir" --served-model-name kokoro --port $port \
        >"$out/vllm_server.log" 2>&1 &
    local pid=$!
    for _ in $(seq 300); do
        curl -sf "http://127.0.0.1:$port/v1/models" >/dev/null && break
        sleep 1
    done
    $PY bench/openai_generate.py --base-url "http://127.0.0.1:$port/v1" --model kokoro --new-tokens "$new_tokens" \
        --runs "$runs" --out "$out/vllm_generate.json" 2>&1 | tail -n 40 || true
    kill $pid
}

# Steps, in the order a 10-minute call should spend its time: train (also saves the adapter), the fine-tuned
# counselor's generation (base + adapter: what practice sessions run), the base model alone, then vLLM.
STEPS_ALL="train generate-adapter generate vllm"

run() {
    local out=${1:?usage: gpu_kit.sh run OUT [STEP ...]}
    shift
    local steps=${*:-$STEPS_ALL}
    mkdir -p "$out"
    export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv >"$out/gpu.csv" 2>&1 || true
    $PY -c "import torch, transformers, peft, trl, bitsandbytes; print('torch', torch.__version__, 'cuda', \
torch.version.cuda, 'transformers', transformers.__version__, 'peft', peft.__version__, 'trl', trl.__version__, \
'bitsandbytes', bitsandbytes.__version__)" | tee "$out/versions.txt"
    local size="" train_steps=${TRAIN_STEPS:-24} new_tokens=${NEW_TOKENS:-128} runs=${RUNS:-3} conc=${CONCURRENCY:-1,8,32}
    local adapter=/tmp/kokoro-bench-adapter
    local model_dir=/tmp/kokoro-llama31-8b-random # gpu_common's default: written once by the first step
    if [ -n "${TINY:-}" ]; then size=--tiny train_steps=6 new_tokens=16 runs=2 conc=1,2 model_dir=/tmp/kokoro-tiny; fi
    # Each result is written as soon as it exists: a later step that fails or runs out of time loses only itself.
    for step in $steps; do
        echo "=== $step"
        one_step "$step" || echo "=== $step failed"
    done
}

# One generation run: gen OUT_NAME [gpu_generate.py options]; the adapter runs need one from a train step.
gen() {
    local name=$1
    shift
    $PY bench/gpu_generate.py $size --new-tokens "$new_tokens" --runs "$runs" "$@" --out "$out/$name.json" 2>&1 |
        tail -n 30
}

with_adapter() {
    if [ -f "$adapter/adapter_config.json" ]; then
        gen "$@" --adapter "$adapter"
    else
        echo "no adapter at $adapter: run a train step first on this machine"
    fi
}

train_run() {
    local name=$1
    shift
    $PY bench/gpu_qlora_train.py $size --steps "$train_steps" --records 80 --save-adapter "$adapter" "$@" \
        --out "$out/$name.json" 2>&1 | tail -n 40
}

one_step() {
    case $1 in
    train) train_run qlora_train ;;
    # the same run without gradient checkpointing (memory is ample on an 80-141 GB card)
    train-nockpt) train_run qlora_train_nockpt --no-gradient-checkpointing --profile-steps 0 ;;
    generate-adapter) with_adapter hf_generate_adapter --concurrency "$conc" ;;
    generate) gen hf_generate --concurrency "$conc" ;;
    # serving path that can reach the targets: bf16 base, adapter folded in, compiled decode
    generate-merged) with_adapter hf_generate_merged --concurrency 1 --bf16 --merge --static-cache ;;
    # the shipped NF4 + adapter path with only a static cache (compiled decode) added
    generate-static) with_adapter hf_generate_static --concurrency 1 --static-cache ;;
    vllm) vllm_step "$out" "$model_dir" "$new_tokens" "$runs" ;;
    *) echo "unknown step $1 (steps: $STEPS_ALL)" && return 2 ;;
    esac
}

case "${1:-}" in
fetch) fetch ;;
run)
    unpack /tmp/kokoro-site
    shift
    run "$@"
    ;;
smoke)
    shift
    out=${1:-bench/results/gpu-kit-smoke}
    shift || true
    PY=.venv/bin/python TINY=1 run "$out" "${@:-train generate-adapter generate}"
    ;;
*)
    sed -n 2,12p "$0"
    exit 2
    ;;
esac
