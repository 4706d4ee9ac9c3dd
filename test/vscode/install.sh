#!/usr/bin/env bash
# Installs what the headless VS Code tests need: Debian's chromium, and
# code-server 4.100.3 (VS Code 1.100.3; newer ones need Node 22+) in the
# git-ignored .vscode-test/ of the repository. Idempotent: a second run only
# checks and takes well under a second. See ../shared/notes/headless-vscode.md
# for why each workaround below is there.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
version=4.100.3
dest="$repo/.vscode-test/code-server-$version"
marker="$dest/.installed"

# apt as root, or through sudo when there is one.
apt_install() {
  local run=()
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "install.sh: need root or sudo to apt-get install $*" >&2; exit 1; }
    run=(sudo)
  fi
  echo "install.sh: apt-get install $*" >&2
  # A fresh machine may have empty package lists: update once and retry.
  if ! "${run[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null; then
    "${run[@]}" apt-get update -q >/dev/null
    "${run[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null
  fi
}

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
# test:vsix lists the VSIX's files with it.
command -v unzip >/dev/null || missing+=(unzip)
if [ ! -f "$marker" ]; then
  # Only code-server's own install needs these: kerberos compiles against
  # gssapi (libkrb5-dev, pkg-config); ripgrep stands in for the rg binary its
  # @vscode/ripgrep would download from GitHub.
  for pkg in libkrb5-dev pkg-config ripgrep; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
fi
if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi

if [ -f "$marker" ] && [ -f "$dest/node_modules/code-server/out/node/entry.js" ]; then
  exit 0
fi

echo "install.sh: installing code-server@$version into $dest (about a minute)" >&2
rm -rf "$dest"
mkdir -p "$dest/tmp"
printf '{ "private": true }\n' > "$dest/package.json"

# @vscode/ripgrep looks in $TMPDIR/vscode-ripgrep-cache-<its version>/ before
# downloading; a tarball of Debian's rg under the expected name satisfies it.
case "$(uname -m)" in
  x86_64) rg_target=x86_64-unknown-linux-musl ;;
  aarch64) rg_target=aarch64-unknown-linux-musl ;;
  *) rg_target=$(uname -m)-unknown-linux-gnu ;;
esac
rg_cache="$dest/tmp/vscode-ripgrep-cache-1.15.11"
mkdir -p "$rg_cache"
tar -czf "$rg_cache/ripgrep-v13.0.0-10-$rg_target.tar.gz" -C "$(dirname "$(command -v rg)")" rg

# unsafe_perm: code-server's postinstall refuses to run as root without it.
# yes: node-pty's postinstall runs `npx node-gyp`, which would ask on a TTY.
(
  cd "$dest"
  TMPDIR="$dest/tmp" npm_config_unsafe_perm=true npm_config_yes=true \
    npm install --no-audit --no-fund --loglevel=error "code-server@$version" >"$dest/install.log" 2>&1
) || { echo "install.sh: npm install code-server failed, see $dest/install.log" >&2; tail -30 "$dest/install.log" >&2; exit 1; }

rm -rf "$dest/tmp"
echo "$version" > "$marker"
echo "install.sh: code-server $version installed" >&2
