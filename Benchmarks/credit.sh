#!/usr/bin/env bash
# The credit model scored in process by FinFlow (release build) next to Python's xgboost on the same fixture rows:
# batch throughput and single-score latency, each on one thread. Python's xgboost comes from PyPI into a throwaway
# virtual environment, pinned as the training script pins it.
# Usage: Benchmarks/credit.sh
set -euo pipefail
cd "$(dirname "$0")/.."
model=Sources/FinFlowCredit/Resources/models/german-credit-xgb-1
venv=${FINFLOW_ML_VENV:-/tmp/finflow-ml-venv}
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "$(grep '^xgboost-cpu==' tools/ml/requirements.txt)" "$(grep '^numpy==' tools/ml/requirements.txt)" \
    "$(grep '^scipy==' tools/ml/requirements.txt)"
fi
source Benchmarks/support/demo-server.sh
release_binary
echo "== FinFlow (Swift, in process)"
"$bin" credit-bench --fixture "$model/fixture.json"
echo "== Python xgboost $("$venv/bin/python" -c 'import xgboost; print(xgboost.__version__)')"
"$venv/bin/python" Benchmarks/support/xgb_predict.py "$model"
