#!/usr/bin/env bash
# Installs what mpiray needs to build and test, from Debian packages. Safe to re-run: it only
# calls apt-get when something is missing. Needs root (or sudo) for the install step.
set -euo pipefail

PACKAGES=(openmpi-bin libopenmpi-dev libboost-mpi-dev libboost-serialization-dev libgtest-dev
          cmake g++ make)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
