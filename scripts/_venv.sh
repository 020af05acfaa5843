# Sourced by scripts/serve and scripts/test: make .venv and install Parley into it when needed.
# Usage: ensure_venv "." or ensure_venv ".[test]"

ensure_venv() {
    local target="$1"
    local python="${PYTHON:-}"
    if [ -z "$python" ]; then
        for candidate in python3.11 python3 python; do
            if command -v "$candidate" >/dev/null 2>&1 \
                && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
                python="$candidate"
                break
            fi
        done
    fi
    if [ ! -x .venv/bin/python ]; then
        if [ -z "$python" ]; then
            echo "Parley needs Python 3.11 (set PYTHON=/path/to/python3.11)." >&2
            exit 1
        fi
        echo "Creating .venv with $("$python" --version)"
        "$python" -m venv .venv
    fi
    # Reinstall only when the dependency pins or the requested extras change.
    local stamp=".venv/.parley-installed-$(echo "$target" | tr -c 'a-z0-9' '_')"
    local digest
    digest="$(cat pyproject.toml constraints.txt | .venv/bin/python -c 'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$digest" ]; then
        echo "Installing Parley and its pinned dependencies into .venv ($target)"
        .venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e "$target"
        echo "$digest" >"$stamp"
    fi
}
