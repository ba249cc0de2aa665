#!/usr/bin/env bash
# Main job: set up the environment, then run the bundled chronic low back pain analysis.
source "$(dirname "$0")/env.sh"
bayesmeta run models/clbp_digital_pain.toml --out "${1:-output/clbp_digital_pain}"
