#!/bin/sh
# Fetches Debian 13 (trixie)'s godot3-server 3.6 and the libraries it needs into a private
# folder and writes a launcher that starts it through that folder's own dynamic loader, so it
# runs on this Debian 12 machine without touching the system: a private apt configuration
# (own sources list, lists and cache; the Debian archive keyring), apt-get download, dpkg-deb -x.
#
#   scripts/engines.sh            prints the launcher's path (fetches once; later runs are instant)
#   GDHTTP_ENGINE_CACHE=DIR       where to keep it (default: .cache/engines in the repository)
set -eu
cd "$(dirname "$0")/.."
CACHE="${GDHTTP_ENGINE_CACHE:-$PWD/.cache/engines}"
DEST="$CACHE/godot-3.6"
LAUNCHER="$DEST/godot3-server"
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
