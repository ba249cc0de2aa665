#!/usr/bin/env bash
# Main job: set up the environment, then run the bundled chronic low back pain analysis.
source "$(dirname "$0")/env.sh"
# --overwrite: a rerun replaces the outputs its last run wrote (and keeps any other file in the folder)
bayesmeta run models/clbp_digital_pain.toml --out "${1:-output/clbp_digital_pain}" --overwrite
