#!/usr/bin/env bash
# Retrain everything that depends on the tiny base (flash/weights/tiny_v2/), in order, after the base changes:
#   1. FLASH's Detail Enhancement Decoder   -> flash/weights/tiny_decoder/both.safetensors (+ .json)
#   2. the baselines' conditioning modules  -> baselines/weights/{pia,sparsectrl,dynamicrafter}_tiny.safetensors
#   3. (GOLDEN=1) the CI experiment and its golden values -> results/golden/ci.json
# Each step runs under nice -n 10 on OMP_NUM_THREADS threads (default 1). Budgets (environment variables):
#   DECODER_STEPS (default 1500), COND_MINUTES per method (default 4), PYTHON (default .venv/bin/python).
# The yardstick (flash_bench/trained/) depends on the world, not on the base: retrain it with `flash-bench
# train yardstick` when the renderer changes. Usage:  scripts/retrain_tiny_chain.sh   (from anywhere)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OMP_WAIT_POLICY=PASSIVE
run() { echo "+ $*" >&2; nice -n 10 "$@"; }
start=$(date +%s)

decoder=flash/weights/tiny_decoder/both.safetensors
rm -f "$decoder.resume.pt"          # a fresh decoder for the new VAE (resuming needs the same VAE)
run "$PY" -m flash_bench train decoder --steps "${DECODER_STEPS:-1500}" --out "$decoder"
rm -f "$decoder.resume.pt"          # not shipped

run "$PY" -m baselines.pretrain_conditioning --method all --minutes "${COND_MINUTES:-4}"

if [ "${GOLDEN:-0}" = 1 ]; then
  rm -rf results/runs/ci
  run "$PY" -m flash_bench run --experiment ci --dataset synthetic --run-dir results/runs/ci --cache-dir results/cache
  run "$PY" -m flash_bench regress results/runs/ci --golden results/golden/ci.json --update
fi
echo "retrain_tiny_chain: finished in $(( $(date +%s) - start )) s" >&2
