#!/usr/bin/env bash
# Test suite: set up the environment, then run every test (the slow MCMC ones included).
source "$(dirname "$0")/env.sh"
python -m pytest -m "slow or not slow" "$@"
