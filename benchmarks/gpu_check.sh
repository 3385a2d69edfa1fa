#!/usr/bin/env bash
# The GPU check in one shot (issue 21): tests/test_cuda.py and tests/test_cuda_measures.py, then benchmarks/bench_knn_gpu.py.
# Under 8 minutes on one H200: the tests get 3 minutes, the benchmark 4.5 (its own budget
# skips the largest sizes, and says so, if the time runs out). Writes
#   benchmarks/results/test_gpu.txt        GPU, driver, torch/CUDA versions, both outputs
#   benchmarks/results/bench_knn_gpu.json  the benchmark's table
# and copies both to $OUT when that is set.  Usage:  PY=.venv/bin/python bash benchmarks/gpu_check.sh
set -u
cd "$(dirname "$0")/.."
PY=${PY:-python}
log=benchmarks/results/test_gpu.txt
mkdir -p benchmarks/results
{
  echo "# make test-gpu: tests/test_cuda.py and benchmarks/bench_knn_gpu.py"
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | sed 's/^/gpu: /'
  $PY -c "import torch; print('torch:', torch.__version__, 'cuda:', torch.version.cuda, 'available:', torch.cuda.is_available())"
} > "$log" 2>&1
echo "## tests/test_cuda.py tests/test_cuda_measures.py" >> "$log"
timeout 180 env PYTHONPATH="$PWD" $PY -m pytest -q -p no:cacheprovider -rs tests/test_cuda.py tests/test_cuda_measures.py 2>&1 | tail -40 >> "$log"
tests_rc=${PIPESTATUS[0]}
echo "tests exit status: $tests_rc" >> "$log"
echo "## benchmarks/bench_knn_gpu.py" >> "$log"
(cd benchmarks && timeout 270 env PYTHONPATH="$PWD/.." $PY bench_knn_gpu.py --budget-s 200 \
  --cpu-sizes 5000) >> "$log" 2>&1
echo "benchmark exit status: $?" >> "$log"
cat "$log"
if [ -n "${OUT:-}" ]; then
  cp "$log" benchmarks/results/bench_knn_gpu.json "$OUT"/ 2>/dev/null || true
fi
exit "$tests_rc"
