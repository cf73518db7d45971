# Sourced by the bench/*.sh entry points: creates the benchmark's virtual environment outside
# the repository (default /tmp/ple-bench-venv, override with PLE_BENCH_VENV) and installs the
# pinned requirements into it. Nothing is installed into the repository or the system Python.
PLE_BENCH_VENV="${PLE_BENCH_VENV:-/tmp/ple-bench-venv}"
BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ ! -x "$PLE_BENCH_VENV/bin/python" ]; then
    python3 -m venv "$PLE_BENCH_VENV"
fi
# pip is quick when everything is already satisfied.
"$PLE_BENCH_VENV/bin/pip" install --quiet --disable-pip-version-check -r "$BENCH_DIR/requirements.txt"
PY="$PLE_BENCH_VENV/bin/python"
