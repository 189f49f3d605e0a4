#!/usr/bin/env bash
# Installs, once, the tools the tests use outside Rust, and fails loudly when it cannot:
# - poppler's pdftotext and pdftoppm and zbar's zbarimg (barcodes and QR codes), from Debian's
#   packages, to read the printable documents;
# - moto's S3 server, from PyPI (pinned in scripts/s3-test-server.requirements.txt), into a
#   virtual environment at .test-tools/moto, for the S3 file-store tests.
# Tests run it concurrently; a lock makes them take turns.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
exec 9>"${TMPDIR:-/tmp}/qyzmet-test-tools.lock"
flock 9

sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
apt_install() {
  echo "installing $* from Debian's packages for the tests"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "$@"
}

missing=()
command -v pdftotext >/dev/null && command -v pdftoppm >/dev/null || missing+=(poppler-utils)
command -v zbarimg >/dev/null || missing+=(zbar-tools)
command -v python3 >/dev/null || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
  apt_install "${missing[@]}"
fi
for tool in pdftotext pdftoppm zbarimg; do
  command -v "$tool" >/dev/null || { echo "FATAL: $tool is missing" >&2; exit 1; }
done

requirements="$root/scripts/s3-test-server.requirements.txt"
venv="$root/.test-tools/moto"
stamp="$venv/.installed"
if ! [ -x "$venv/bin/moto_server" ] || ! cmp -s "$requirements" "$stamp"; then
  echo "installing moto's S3 server into $venv for the S3 file-store tests"
  rm -rf "$venv"
  # Debian's own Python keeps venv (with pip) in a package of its own.
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    rm -rf "$venv"
    apt_install python3-venv
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$stamp"
fi
"$venv/bin/moto_server" --help >/dev/null || { echo "FATAL: moto_server does not run" >&2; exit 1; }
