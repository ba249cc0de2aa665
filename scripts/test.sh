#!/usr/bin/env bash
# Test suite: set up the environment, then run every test (the slow MCMC ones included).
source "$(dirname "$0")/env.sh"
# The HTML report test renders in headless Chromium and reads its PDF with poppler's pdftotext (Debian packages);
# install them when missing.
if ! { command -v chromium && command -v pdftotext; } >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium poppler-utils \
        >/dev/null
fi
# The import layers of pyproject.toml ([tool.importlinter]): a violation fails CI (docs/pages/architecture.md).
lint-imports
python -m pytest -m "slow or not slow" "$@"
