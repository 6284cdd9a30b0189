#!/usr/bin/env bash
# Source this: installs once, from PyPI into .build-tools/, what the mail tests need, and exports
#   FINFLOW_AIOSMTPD_PATH  a PYTHONPATH directory holding aiosmtpd 1.4.6 (a real SMTP server); the tests start
#                          tools/mail/smtp-test-server.py on 127.0.0.1 themselves, with STARTTLS and AUTH required
mail_tools="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.build-tools"
mkdir -p "$mail_tools"
if [ ! -f "$mail_tools/aiosmtpd/aiosmtpd/controller.py" ]; then
  rm -rf "$mail_tools/aiosmtpd.part"
  PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check --no-warn-conflicts --target "$mail_tools/aiosmtpd.part" aiosmtpd==1.4.6
  mv "$mail_tools/aiosmtpd.part" "$mail_tools/aiosmtpd"
fi
export FINFLOW_AIOSMTPD_PATH="$mail_tools/aiosmtpd"
