#!/bin/sh
# Fetches Debian 13 (trixie)'s godot3-server 3.6 and the libraries it needs into a private
# folder and writes a launcher that starts it through that folder's own dynamic loader, so it
# runs on this Debian 12 machine without touching the system: a private apt configuration
# (own sources list, lists and cache; the Debian archive keyring), apt-get download, dpkg-deb -x.
#
#   scripts/engines.sh            prints the launcher's path (fetches once; later runs are instant)
#   scripts/engines.sh editor     the same for Debian 13's godot3 (the X11 editor), in a sibling
#                                 folder, so callers that need only the server never fetch it
#   GDHTTP_ENGINE_CACHE=DIR       where to keep it (default: .cache/engines in the repository)
set -eu
cd "$(dirname "$0")/.."
CACHE="${GDHTTP_ENGINE_CACHE:-$PWD/.cache/engines}"
case "${1:-server}" in
    server) PKG=godot3-server; DEST="$CACHE/godot-3.6" ;;
    editor) PKG=godot3; DEST="$CACHE/godot-3.6-editor" ;;
    *) echo "usage: scripts/engines.sh [editor]" >&2; exit 2 ;;
esac
LAUNCHER="$DEST/$PKG"
if [ -x "$LAUNCHER" ] && "$LAUNCHER" --version >/dev/null 2>&1; then
    echo "$LAUNCHER"
    exit 0
fi

APT="$CACHE/apt"
mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/parts" "$APT/debs"
# The machine's own Debian mirror, suite trixie.
URI=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
[ -n "$URI" ] || URI=$(awk '$1=="deb" && $0 !~ /security/ {for(i=2;i<=NF;i++) if ($i ~ /^https?:/) {print $i; exit}}' /etc/apt/sources.list 2>/dev/null)
[ -n "$URI" ] || { echo "engines: no Debian mirror found in the apt sources" >&2; exit 1; }
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
echo "deb [signed-by=$KEYRING] $URI trixie main" > "$APT/sources.list"
: > "$APT/status"
set -- -o "Dir::Etc::sourcelist=$APT/sources.list" -o "Dir::Etc::sourceparts=$APT/parts" \
       -o "Dir::State::Lists=$APT/lists" -o "Dir::Cache=$APT/cache" \
       -o "Dir::State::status=$APT/status" -o "APT::Architecture=amd64" \
       -o "APT::Architectures::=amd64" -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root"
echo "engines: reading trixie's package lists (private apt configuration)" >&2
apt-get "$@" -qq update >&2
if [ "$PKG" = godot3 ]; then
    # apt's own resolver on the empty status: first alternatives only (no font collection
    # rides along), plus libudev1, which Godot dlopens for joypads (else the system's loads).
    PKGS=$(apt-get "$@" -s --no-install-recommends install godot3 libudev1 \
           | sed -n 's/^Inst \([^ ]*\) .*/\1/p')
    [ -n "$PKGS" ] || { echo "engines: apt could not resolve godot3 in trixie" >&2; exit 1; }
    DEBS="$APT/debs-editor"
    rm -rf "$DEBS" "$DEST.tmp"
    mkdir -p "$DEBS" "$DEST.tmp/root"
    echo "engines: downloading $(echo "$PKGS" | wc -w) packages (editor)" >&2
    ( cd "$DEBS" && apt-get "$@" -qq download $PKGS >&2 )
    for deb in "$DEBS"/*.deb; do
        dpkg-deb -x "$deb" "$DEST.tmp/root"
    done
    rm -rf "$DEBS"  # 90 MB the unpacked tree makes redundant
    # The binary itself names the private loader and library folder (DT_RPATH reaches the
    # libraries glvnd and Mesa dlopen), so it needs no loader on its command line and
    # whatever the editor starts of itself (Play, a restart) runs the same way. The paths
    # are absolute: a moved cache fails the --version check above and is fetched again.
    L="$DEST/root/usr/lib/x86_64-linux-gnu"
    for tool in patchelf readelf; do
        command -v $tool >/dev/null || { echo "engines: $tool missing (make setup)" >&2; exit 1; }
    done
    patchelf --set-interpreter "$L/ld-linux-x86-64.so.2" --force-rpath --set-rpath "$L" \
        "$DEST.tmp/root/usr/bin/godot3"
    # A library's own RUNPATH hides the binary's RPATH from its dependencies (libLLVM's
    # $ORIGIN/../lib would find the system's libxml2, libffi, libz3): point it at its folder.
    for lib in "$DEST.tmp/root/usr/lib/x86_64-linux-gnu"/*.so.*; do
        [ -L "$lib" ] || ! readelf -d "$lib" 2>/dev/null | grep -q RUNPATH \
            || patchelf --set-rpath '$ORIGIN' "$lib"
    done
    cat > "$DEST.tmp/godot3" <<'LAUNCH'
#!/bin/sh
# Godot 3.6's editor (Debian 13's godot3, X11) with the private tree's Mesa: llvmpipe under
# Xvfb (software unless told otherwise), glvnd's Mesa vendor, and Mesa's and Xlib's data
# from the tree rather than the system's. Audio: pass --audio-driver Dummy, else Godot
# dlopens the system's libpulse/libasound (they run, but are not the tree's).
R="$(dirname "$(readlink -f "$0")")/root"
L="$R/usr/lib/x86_64-linux-gnu"
export LIBGL_DRIVERS_PATH="$L/dri" DRIRC_CONFIGDIR="$R/usr/share/drirc.d"
export LIBGL_ALWAYS_SOFTWARE="${LIBGL_ALWAYS_SOFTWARE-1}"
export __GLX_VENDOR_LIBRARY_NAME="${__GLX_VENDOR_LIBRARY_NAME-mesa}"
export XLOCALEDIR="$R/usr/share/X11/locale" XCURSOR_PATH="$R/usr/share/icons"
exec "$R/usr/bin/godot3" "$@"
LAUNCH
    chmod +x "$DEST.tmp/godot3"
    rm -rf "$DEST"
    mv "$DEST.tmp" "$DEST"
    "$LAUNCHER" --version >&2
    echo "$LAUNCHER"
    exit 0
fi
# godot3-server and everything it depends on, recursively (virtual packages dropped).
PKGS=$(apt-cache "$@" depends --recurse --no-recommends --no-suggests --no-conflicts \
         --no-breaks --no-replaces --no-enhances godot3-server \
       | sed -n 's/^  *\(Pre\)\{0,1\}Depends: \([^<> ]*\)$/\2/p; s/^\([a-z0-9][^ ]*\)$/\1/p' \
       | sort -u)
echo "engines: downloading $(echo "$PKGS" | wc -w) packages" >&2
( cd "$APT/debs" && apt-get "$@" -qq download $PKGS >&2 )
rm -rf "$DEST.tmp"
mkdir -p "$DEST.tmp/root"
for deb in "$APT/debs"/*.deb; do
    dpkg-deb -x "$deb" "$DEST.tmp/root"
done
cat > "$DEST.tmp/godot3-server" <<'LAUNCH'
#!/bin/sh
# Godot 3.6 (Debian 13's godot3-server), run through its own glibc's loader.
R="$(dirname "$(readlink -f "$0")")/root"
L="$R/usr/lib/x86_64-linux-gnu"
exec "$L/ld-linux-x86-64.so.2" --library-path "$L:$R/lib/x86_64-linux-gnu" "$R/usr/bin/godot3-server" "$@"
LAUNCH
chmod +x "$DEST.tmp/godot3-server"
rm -rf "$DEST"
mv "$DEST.tmp" "$DEST"
"$LAUNCHER" --version >&2
echo "$LAUNCHER"
