#!/usr/bin/env bash
# Builds a minimal root filesystem tarball from Debian bookworm packages (nothing from any image
# registry): mmdebstrap's `extract` variant unpacks the named packages and their dependencies,
# without dpkg, apt or a shell; this script then adds what a container needs and strips the rest.
#
#   deploy/image/rootfs.sh base OUT.tar       libraries the vigil binary links, CA certificates,
#                                             /etc/passwd, the directories the image mounts over
#   deploy/image/rootfs.sh workload OUT.tar   busybox (sh, cat, ...) and an /etc/shadow: the
#                                             workload image of the container tests
#
# MIRROR (default http://deb.debian.org/debian) and SECURITY_MIRROR may point at a local mirror.
set -euo pipefail
kind=${1:?usage: rootfs.sh base|workload OUT.tar}
out=${2:?usage: rootfs.sh base|workload OUT.tar}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${SECURITY_MIRROR:-http://deb.debian.org/debian-security}

case "$kind" in
  # What `ldd vigil` lists (the Swift runtime is linked statically), and CA certificates for the
  # Kubernetes API and https outputs.
  base) packages=libc6,libgcc-s1,libbpf1,libelf1,zlib1g,libyaml-0-2,libcurl4,libmicrohttpd12,libstdc++6,ca-certificates ;;
  workload) packages=busybox-static ;;
  *) echo "rootfs.sh: unknown kind '$kind' (base or workload)" >&2; exit 2 ;;
esac

command -v mmdebstrap >/dev/null || { echo "rootfs.sh: mmdebstrap is not installed (apt-get install mmdebstrap)" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
tmp="$out.tmp.$$"
trap 'rm -rf "$tmp" "$out.part"' EXIT

# Unpack into a directory, then finish the root here (there is no shell inside it).
rm -rf "$tmp"
mmdebstrap --quiet --format=directory --variant=extract --include="$packages" bookworm "$tmp" \
  "deb $MIRROR bookworm main" "deb $MIRROR bookworm-updates main" "deb $SECURITY_MIRROR bookworm-security main"
r=$tmp
rm -rf "$r"/usr/share/doc "$r"/usr/share/man "$r"/usr/share/info "$r"/usr/share/locale "$r"/usr/share/lintian \
       "$r"/usr/share/bug "$r"/var/cache/* "$r"/var/lib/apt "$r"/var/lib/dpkg "$r"/var/log/* "$r"/etc/apt "$r"/etc/dpkg \
       "$r"/dev/* "$r"/etc/fstab "$r"/etc/hostname "$r"/etc/resolv.conf
mkdir -p "$r"/etc "$r"/tmp "$r"/proc "$r"/sys "$r"/dev "$r"/run "$r"/root
chmod 1777 "$r"/tmp
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' > "$r"/etc/passwd
printf 'root:x:0:\nnogroup:x:65534:\n' > "$r"/etc/group
printf 'hosts: files dns\n' > "$r"/etc/nsswitch.conf
case "$kind" in
  base)
    # ca-certificates without its maintainer script: the bundle update-ca-certificates would write.
    mkdir -p "$r"/etc/ssl/certs
    find "$r"/usr/share/ca-certificates -name '*.crt' | sort | xargs cat > "$r"/etc/ssl/certs/ca-certificates.crt
    # Not used by the agent: iconv modules (8 MB), the openssl CLI, SASL's Berkeley DB plugin.
    rm -rf "$r"/usr/bin/openssl "$r"/usr/lib/ssl/misc "$r"/usr/lib/x86_64-linux-gnu/gconv \
           "$r"/usr/lib/x86_64-linux-gnu/sasl2 "$r"/usr/lib/x86_64-linux-gnu/libdb-5.3.so
    # Where the image puts the agent, its BPF object, its rules, and where the DaemonSet mounts local rules.
    mkdir -p "$r"/usr/bin "$r"/usr/lib/vigil "$r"/etc/vigil "$r"/etc/vigil-rules.d
    ;;
  workload)
    mkdir -p "$r"/bin
    for t in sh cat ls sleep id true; do ln -sf busybox "$r"/bin/$t; done
    printf 'root:*:19000:0:99999:7:::\n' > "$r"/etc/shadow
    chmod 0640 "$r"/etc/shadow
    ;;
esac
# Reproducible tarball: sorted, numeric owners, one fixed mtime.
tar --sort=name --numeric-owner --owner=0 --group=0 --mtime=@0 -C "$r" -cf "$out.part" .
rm -rf "$tmp"
mv "$out.part" "$out"
trap - EXIT
echo "rootfs.sh: $kind root filesystem in $out ($(du -h "$out" | cut -f1))"
