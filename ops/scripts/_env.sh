# Shared by ops/scripts/serve and ops/scripts/test: make .venv exist and match pyproject.toml.
# Usage: . ops/scripts/_env.sh EXTRAS   (EXTRAS: "" for the service, "test" for the test suite)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${VIBEWEAVER_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
extras="${1:-}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "setting up $VENV with $("$PYTHON" --version)" >&2
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip >&2
fi
stamp="$VENV/.vibeweaver-installed-${extras:-base}"
want="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  spec="$ROOT"
  [ -n "$extras" ] && spec="$ROOT[$extras]"
  echo "installing vibeweaver${extras:+ with [$extras]} into $VENV" >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$spec" >&2
  echo "$want" > "$stamp"
fi
