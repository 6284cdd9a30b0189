#!/usr/bin/env bash
# Source this: installs once, from PyPI into .build-tools/, what the payments tests need, and exports
#   FINFLOW_LOCALSTRIPE_PATH  a PYTHONPATH directory holding localstripe 1.15.10 (a stateful fake of Stripe's API)
#                             and its dependencies; the tests start it on 127.0.0.1 themselves
payment_tools="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.build-tools"
mkdir -p "$payment_tools"
if [ ! -f "$payment_tools/localstripe/localstripe/server.py" ]; then
  rm -rf "$payment_tools/localstripe.part"
  PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check --no-warn-conflicts --target "$payment_tools/localstripe.part" localstripe==1.15.10
  mv "$payment_tools/localstripe.part" "$payment_tools/localstripe"
fi
export FINFLOW_LOCALSTRIPE_PATH="$payment_tools/localstripe"
