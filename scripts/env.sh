# Sourced by the other scripts: create or refresh .venv with Python >= 3.12 and the project installed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
find_python() {
    for cand in python3.13 python3.12 python3 \
                "$HOME"/.pyenv/versions/3.1[3-9]*/bin/python3 "$HOME"/.pyenv/versions/3.12*/bin/python3 \
                /usr/local/bin/python3.1[2-9] /usr/bin/python3.1[2-9]; do
        if "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then
            command -v "$cand" 2>/dev/null || echo "$cand"; return 0
        fi
    done
    echo "bayesmeta needs Python >= 3.12; none found (tried python3.13, python3.12, python3, pyenv)" >&2
    return 1
}
stamp="$VENV/.installed-$(sha1sum "$ROOT/pyproject.toml" | cut -c1-12)"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
    rm -rf "$VENV"
    "$(find_python)" -m venv "$VENV"
fi
if [ ! -f "$stamp" ]; then
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e "$ROOT[test,docs]"
    rm -f "$VENV"/.installed-* && touch "$stamp"
fi
export PATH="$VENV/bin:$PATH"
cd "$ROOT"
