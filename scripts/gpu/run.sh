#!/usr/bin/env bash
# The one command on a GPU machine (issue 11, DESIGN.md 13, ../shared/GPU.md):
#
#   scripts/gpu/run.sh --out DIR [--budget 480] [--items a,b] [--allow-software] [--bundle .gpu]
#
# Unpacks the bundle that `npm run gpu:pack` built (it needs no Node, npm or network here),
# installs the Vulkan loader from the Debian packages carried with it when the machine has
# none, points Vulkan at the NVIDIA driver, and runs bench/gpu-campaign.ts, which prints
# the adapter, refuses a software one (unless --allow-software), runs every benchmark and
# the overfit experiment inside the budget, and writes DIR/gpu-results.json and .md.
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
bundle="$repo/.gpu"
out=""
allow_software=0
pass=()
while [ $# -gt 0 ]; do
  case "$1" in
    --bundle) bundle="${2:?--bundle needs a folder}"; shift 2 ;;
    --out) out="${2:?--out needs a folder}"; shift 2 ;;
    --allow-software) allow_software=1; pass+=("$1"); shift ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) pass+=("$1"); shift ;;
  esac
done
[ -n "$out" ] || { echo "run.sh: --out DIR is required (where gpu-results.json and gpu-results.md go)" >&2; exit 2; }
for f in node.xz app.tar.xz; do
  [ -f "$bundle/$f" ] || { echo "run.sh: $bundle/$f is missing: build the bundle with 'npm run gpu:pack' on a machine with npm, and carry .gpu/" >&2; exit 2; }
done
mkdir -p "$out"
out="$(cd "$out" && pwd)"

work="$(mktemp -d "${TMPDIR:-/tmp}/prts-gpu.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# xz where it exists; Python's lzma otherwise (the GPU machine has Python).
unxz_to_stdout() {
  if command -v xz >/dev/null 2>&1; then xz -dc "$1"
  else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$1"
  fi
}
unxz_to_stdout "$bundle/node.xz" > "$work/node"
chmod +x "$work/node"
unxz_to_stdout "$bundle/app.tar.xz" | tar -x -C "$work"
echo "unpacked: node $("$work/node" --version), $(ls "$work/app" | grep -c '\.mjs$') bundles" >&2

# The Vulkan loader (GPU.md step 4): unpacked into / only where the machine lacks one.
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; then
  if ls "$bundle"/debs/*.deb >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || { echo "run.sh: no libvulkan.so.1 here and installing the carried one needs root" >&2; exit 2; }
    echo "installing the Vulkan loader from $bundle/debs" >&2
    for f in "$bundle"/debs/*.deb; do dpkg -x "$f" /; done
    ldconfig
  else
    echo "run.sh: no libvulkan.so.1 here and no carried debs (pack without --no-debs)" >&2; exit 2
  fi
fi

if [ "$allow_software" = 0 ]; then
  # Never let a SwiftShader ICD left in the environment be picked on the GPU machine.
  unset VK_ICD_FILENAMES
  nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$nvidia_icd" ] && ! ls /usr/share/vulkan/icd.d/nvidia* /etc/vulkan/icd.d/nvidia* >/dev/null 2>&1; then
    export VK_DRIVER_FILES="$nvidia_icd"
    [ -f /usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json ] && export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  fi
  echo "Vulkan driver: ${VK_DRIVER_FILES:-system ICDs}" >&2
  command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >&2 || true
fi

cp "$bundle/manifest.json" "$out/gpu-pack-manifest.json" 2>/dev/null || true
# The campaign's own exit status: 3 refused adapter, 1 an item failed, 0 all ran or were skipped.
cd "$work/app"
"$work/node" gpu-campaign.mjs --out "$out" "${pass[@]}"
