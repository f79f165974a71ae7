# Sourced by the scripts: the tool paths and flags every build needs.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# RUSTC_BOOTSTRAP lets the stable toolchain build the wasm32 std (-Zbuild-std); it must be in
# cargo's own environment, and set for every build or dependencies rebuild.
export RUSTC_BOOTSTRAP=1
# node_modules/.bin first: binaryen's wasm-opt 132 (Debian's 108 breaks the release wasm).
export PATH="$ROOT/node_modules/.bin:$ROOT/.tools/venv/bin:$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
