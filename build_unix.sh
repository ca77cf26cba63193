#!/usr/bin/env bash
# Build the single-file llmp binary for Linux or macOS, then smoke-test it.
#
#   ./build_unix.sh              -> dist/llmp-<version>-<os>-<arch> and its .sha256
#   ./build_unix.sh --no-smoke   build only
#
# A clean venv (build/venv) gets llmp from this checkout (no test extras) and a
# pinned PyInstaller; the build is reproducible (fixed PYTHONHASHSEED and
# SOURCE_DATE_EPOCH, no absolute paths in the bundle). Environment knobs:
#   PYTHON                   the Python to build with (default python3); the binary
#                            needs at least the glibc / macOS version it was built on
#   LLMP_BUILD_PLUGINS       extra pip requirements to bundle, e.g. provider plug-ins
#                            ("llmp-foo==1.2"); their entry points work in the binary
#   LLMP_CODESIGN_IDENTITY   macOS: a "Developer ID Application: ..." identity
#                            (default: ad-hoc signature)
#   LLMP_NOTARY_PROFILE      macOS: a `xcrun notarytool store-credentials` profile;
#                            when set, the signed binary is sent for notarization
set -euo pipefail
cd "$(dirname "$0")"

PYINSTALLER_VERSION="6.22.3"
SMOKE=1
for arg in "$@"; do
    case "$arg" in
        --no-smoke) SMOKE=0 ;;
        *) echo "usage: $0 [--no-smoke]" >&2; exit 2 ;;
    esac
done

step() { printf '\n== %s\n' "$*"; }
die() { printf 'build_unix.sh: %s\n' "$*" >&2; exit 1; }

PYTHON="${PYTHON:-python3}"
command -v "$PYTHON" >/dev/null || die "no $PYTHON on PATH (set PYTHON=...)"
VENV="build/venv"

step "clean build venv in $VENV"
"$PYTHON" -m venv --clear "$VENV" || die "could not create $VENV"
PY="$VENV/bin/python"
"$PY" -m pip install --quiet --disable-pip-version-check --upgrade pip
# A regular (not editable) install: the bundle must not point back into this folder.
"$PY" -m pip install --quiet --disable-pip-version-check . "pyinstaller==$PYINSTALLER_VERSION" \
    || die "pip could not install llmp and PyInstaller into $VENV"
if [ -n "${LLMP_BUILD_PLUGINS:-}" ]; then
    # shellcheck disable=SC2086  # a space-separated list of requirements
    "$PY" -m pip install --quiet --disable-pip-version-check $LLMP_BUILD_PLUGINS \
        || die "pip could not install LLMP_BUILD_PLUGINS ($LLMP_BUILD_PLUGINS)"
fi

# Reproducible: the same checkout gives the same bytes.
export PYTHONHASHSEED=0
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    SOURCE_DATE_EPOCH="$(git log -1 --format=%ct 2>/dev/null || date -r pyproject.toml +%s)"
fi
export SOURCE_DATE_EPOCH
export PYTHONDONTWRITEBYTECODE=1

step "PyInstaller $PYINSTALLER_VERSION"
rm -rf build/pyinstaller
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath dist --workpath build/pyinstaller pyinstaller/llmp.spec \
    || die "PyInstaller failed (its messages are above)"

VERSION="$("$PY" -c 'from importlib.metadata import version; print(version("llmp"))')"
case "$(uname -s)" in
    Darwin) OS=macos ;;
    Linux) OS=linux ;;
    *) OS="$(uname -s | tr '[:upper:]' '[:lower:]')" ;;
esac
ARCH="$(uname -m)"
case "$ARCH" in aarch64) ARCH=arm64 ;; amd64) ARCH=x86_64 ;; esac
BINARY="dist/llmp-$VERSION-$OS-$ARCH"
[ -x "$BINARY" ] || die "PyInstaller finished but $BINARY is not there"

if [ "$OS" = macos ]; then
    step "codesign"
    codesign --verify --verbose "$BINARY" || die "the signature of $BINARY does not verify"
    if [ -n "${LLMP_NOTARY_PROFILE:-}" ]; then
        [ -n "${LLMP_CODESIGN_IDENTITY:-}" ] || die "notarization needs LLMP_CODESIGN_IDENTITY"
        ditto -c -k "$BINARY" "$BINARY.zip"
        xcrun notarytool submit "$BINARY.zip" --keychain-profile "$LLMP_NOTARY_PROFILE" --wait \
            || die "notarization failed"
        rm -f "$BINARY.zip"
    fi
fi

step "SHA-256"
(
    cd dist
    name="$(basename "$BINARY")"
    if command -v sha256sum >/dev/null; then sha256sum "$name"; else shasum -a 256 "$name"; fi > "$name.sha256"
    cat "$name.sha256"
)
printf '%s: %s bytes\n' "$BINARY" "$(wc -c < "$BINARY" | tr -d ' ')"

if [ "$SMOKE" = 1 ]; then
    step "smoke test"
    "$PY" pyinstaller/smoke.py "$BINARY" || die "the smoke test failed on $BINARY"
fi
echo "built $BINARY"
