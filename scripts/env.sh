# Sourced by the scripts: the tool paths and flags every build needs.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# RUSTC_BOOTSTRAP lets the stable toolchain build the wasm32 std (-Zbuild-std); it must be in
# cargo's own environment, and set for every build or dependencies rebuild.
export RUSTC_BOOTSTRAP=1
# node_modules/.bin first: binaryen's wasm-opt 132 (Debian's 108 breaks the release wasm).
export PATH="$ROOT/node_modules/.bin:$ROOT/.tools/venv/bin:$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
# Clippy is part of every host build: clippy-driver compiles the workspace's own crates (their
# dependencies still go to plain rustc) and fails on any warning, so the lint costs no check
# build of its own. Clippy runs those crates' MIR unoptimised (LLVM still optimises them fully).
# The wasm is built by plain rustc (scripts/build) and linted apart: its size depends on MIR
# inlining. Machines without rust-web-clippy (scripts/setup app) build without the lint.
if clippy-driver --version >/dev/null 2>&1; then
  export RUSTC_WORKSPACE_WRAPPER=$(command -v clippy-driver)
  export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
fi
