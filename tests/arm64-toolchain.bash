# Sourced by the scripts that build for arm64 (tests/arm64, tests/lambda-package --arm64,
# tests/image/build): installs what cross-building and running arm64 needs, where it is missing.
# - the Rust target aarch64-unknown-linux-gnu (rustup);
# - Debian's cross linker and C library (gcc-aarch64-linux-gnu, libc6-dev-arm64-cross), which
#   .cargo/config.toml names to link the doors statically;
# - qemu-user (qemu-user-static), which runs the arm64 doors on an x86_64 machine;
# - file, which the checks read binaries with.

arm64_toolchain_die() { printf 'arm64 toolchain: %s\n' "$*" >&2; exit 1; }

if ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
  command -v rustup >/dev/null || arm64_toolchain_die "rustup not found: install Rust with rustup, or add the aarch64-unknown-linux-gnu target your own way"
  rustup target add aarch64-unknown-linux-gnu >&2 || arm64_toolchain_die "rustup target add aarch64-unknown-linux-gnu failed"
fi
arm64_missing=()
command -v aarch64-linux-gnu-gcc >/dev/null || arm64_missing+=(gcc-aarch64-linux-gnu)
[[ -e /usr/aarch64-linux-gnu/lib/libc.a ]] || arm64_missing+=(libc6-dev-arm64-cross)
command -v qemu-aarch64-static >/dev/null || arm64_missing+=(qemu-user-static)
command -v file >/dev/null || arm64_missing+=(file)
if ((${#arm64_missing[@]})); then
  command -v apt-get >/dev/null || arm64_toolchain_die "missing ${arm64_missing[*]}: install them with your package manager"
  echo "arm64 toolchain: installing ${arm64_missing[*]}" >&2
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${arm64_missing[@]}" >/dev/null; } >&2 ||
    arm64_toolchain_die "apt-get install ${arm64_missing[*]} failed (as root: apt-get install ${arm64_missing[*]})"
fi
unset arm64_missing
