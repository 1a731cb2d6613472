#!/usr/bin/env bash
# Resolves the newest Debian cloud kernel of a series (5.10, 6.1, 6.12, ...) from Debian's
# registry, downloads it once into the cache and prints "<version> <vmlinuz path>".
#
#   fetch-kernel.sh SERIES [CACHE_DIR]      (CACHE_DIR default: build/kernels, or $KERNEL_CACHE)
#
# apt runs with a private sources list and state directory under CACHE_DIR/apt: the system's
# sources and /boot are never touched. The package list is refreshed at most once per run of
# the matrix (KERNEL_APT_MAX_AGE seconds, default 6 h); with no network the cached newest
# kernel of the series is used. Exits non-zero with a message if the kernel lacks BTF.
set -euo pipefail
series="${1:?usage: fetch-kernel.sh SERIES [CACHE_DIR]}"
cache="${2:-${KERNEL_CACHE:-build/kernels}}"
mkdir -p "$cache"
cache="$(cd "$cache" && pwd)"
apt_dir="$cache/apt"
max_age="${KERNEL_APT_MAX_AGE:-21600}"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
security="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"

# Which suites hold which series (the newest of all matching packages wins).
case "$series" in
  5.10) suites="bullseye bullseye-security" ;;
  6.1)  suites="bookworm bookworm-security" ;;
  6.12) suites="bookworm-security trixie trixie-security" ;;
  *)    suites="${KERNEL_SUITES:-}"
        [ -n "$suites" ] || { echo "fetch-kernel: no suites known for series '$series' (set KERNEL_SUITES)" >&2; exit 2; } ;;
esac

mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/sources.list.d" "$apt_dir/preferences.d"
: > "$apt_dir/status"
{
  for s in bullseye bookworm trixie; do
    echo "deb [signed-by=$keyring] $mirror $s main"
    echo "deb [signed-by=$keyring] $security $s-security main"
  done
} > "$apt_dir/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
          -o "Dir::Etc::Preferences=$apt_dir/preferences" -o "Dir::Etc::PreferencesParts=$apt_dir/preferences.d"
          -o "Dir::State=$apt_dir" -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::State::status=$apt_dir/status"
          -o "Dir::Cache=$apt_dir/cache" -o "APT::Architecture=amd64" -o "Debug::NoLocking=1"
          -o "Acquire::Languages=none" -o "APT::Get::List-Cleanup=0" -o "APT::Sandbox::User=root")

stamp="$apt_dir/lists/.updated"
now=$(date +%s)
if [ ! -f "$stamp" ] || [ $((now - $(stat -c %Y "$stamp"))) -gt "$max_age" ]; then
  # One updater at a time (several series may be fetched in parallel).
  exec 9>"$apt_dir/.lock"; flock 9
  if [ ! -f "$stamp" ] || [ $((now - $(stat -c %Y "$stamp"))) -gt "$max_age" ]; then
    if apt-get "${apt_opts[@]}" -qq update >"$apt_dir/update.log" 2>&1; then touch "$stamp"
    else echo "fetch-kernel: warning: apt-get update failed (see $apt_dir/update.log); using cached lists/kernels" >&2; fi
  fi
  flock -u 9
fi

# Candidates: linux-image-<series>.*-cloud-amd64 (not -dbg, not -unsigned) in the suites above,
# read straight from the downloaded Packages indexes (apt-cache would rebuild its cache per call).
best_pkg=""; best_ver=""
esc="${series//./\\.}"
for suite in $suites; do
  for f in "$apt_dir"/lists/*_dists_"${suite}"_main_binary-amd64_Packages*; do
    [ -f "$f" ] || continue
    while read -r pkg ver; do
      if [ -z "$best_ver" ] || dpkg --compare-versions "$ver" gt "$best_ver"; then best_ver="$ver"; best_pkg="$pkg"; fi
    done < <(/usr/lib/apt/apt-helper cat-file "$f" | awk -v re="^linux-image-${esc}\\.[0-9][^ ]*-cloud-amd64\$" \
               '/^Package: /{p=$2} /^Version: /{ if (p ~ re) print p, $2 }')
  done
done

if [ -z "$best_pkg" ]; then
  # Offline: the newest kernel of the series already in the cache.
  cached="$(ls -d "$cache/x/${series}".*-cloud-amd64 2>/dev/null | sort -V | tail -1 || true)"
  [ -n "$cached" ] || { echo "fetch-kernel: no linux-image-${series}.*-cloud-amd64 found in: $suites (and none cached)" >&2; exit 1; }
  rel="$(basename "$cached")"
  echo "$(cat "$cached/.version" 2>/dev/null || echo "$rel") $cached/boot/vmlinuz-$rel"
  exit 0
fi

rel="${best_pkg#linux-image-}"          # e.g. 5.10.0-32-cloud-amd64
dest="$cache/x/$rel"
if [ ! -f "$dest/.done" ] || [ "$(cat "$dest/.version" 2>/dev/null)" != "$best_ver" ]; then
  tmp="$(mktemp -d "$cache/dl.XXXXXX")"
  ( cd "$tmp" && apt-get "${apt_opts[@]}" -qq download "$best_pkg=$best_ver" ) >&2 \
    || { rm -rf "$tmp"; echo "fetch-kernel: apt-get download $best_pkg=$best_ver failed" >&2; exit 1; }
  rm -rf "$dest"; mkdir -p "$dest"
  dpkg -x "$tmp"/*.deb "$tmp/root"
  cp "$tmp/root/boot/vmlinuz-$rel" "$tmp/root/boot/config-$rel" "$dest/" 2>/dev/null || true
  mkdir -p "$dest/boot"; mv "$dest/vmlinuz-$rel" "$dest/config-$rel" "$dest/boot/"
  rm -rf "$tmp"
  echo "$best_ver" > "$dest/.version"
  touch "$dest/.done"
fi
grep -qx 'CONFIG_DEBUG_INFO_BTF=y' "$dest/boot/config-$rel" \
  || { echo "fetch-kernel: $best_pkg $best_ver has no CONFIG_DEBUG_INFO_BTF=y: Vigil cannot run on it" >&2; exit 1; }
echo "$best_ver $dest/boot/vmlinuz-$rel"
