#!/usr/bin/env bash
# Installs the command-line tools the printable-document tests read PDFs with, once: poppler's
# pdftotext and pdftoppm, and zbar's zbarimg (barcodes and QR codes), from Debian's packages.
# Fails loudly when it cannot.
set -euo pipefail
missing=()
command -v pdftotext >/dev/null && command -v pdftoppm >/dev/null || missing+=(poppler-utils)
command -v zbarimg >/dev/null || missing+=(zbar-tools)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} for the printable-document tests"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
for tool in pdftotext pdftoppm zbarimg; do
  command -v "$tool" >/dev/null || { echo "FATAL: $tool is missing" >&2; exit 1; }
done
