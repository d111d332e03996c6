# Helpers every rendered script starts with (installer's host/src/render/prelude.sh, which
# its tests also check with shellcheck on its own).
set -eu

changed=' '
note_changed() { changed="$changed$1 "; }
was_changed() { case "$changed" in *" $1 "*) return 0 ;; esac; return 1; }
say() { printf '%s\n' "$*" >&2; }
# on_this_kernel: the script runs on the system it prepares, not in a chroot or an image root
# (where PID 1's root is another directory, or no /proc is mounted).
on_this_kernel() { [ "$(stat -Lc %d:%i /proc/1/root/ 2>/dev/null)" = "$(stat -Lc %d:%i /)" ]; }
quiet() { "$@" >/dev/null 2>&1; }
prints_no() { # prints_no TEXT COMMAND...: COMMAND succeeds and its output lacks TEXT
  t=$1; shift
  out=$("$@" 2>/dev/null) || return 1
  case "$out" in *"$t"*) return 1 ;; esac
}
have_lines() { # have_lines OUTPUT LINE...: every LINE is a whole line of OUTPUT
  out=$1; shift
  for line in "$@"; do printf '%s\n' "$out" | grep -qxF -- "$line" || return 1; done
}

# backup FILE: keep a copy of FILE before it is replaced or removed, under $INSTALLER_BACKUPS
# (/var/lib/installer/script-backups by default), never beside it: a copy in a drop-in
# directory (crio.conf.d, say) would be read as one more drop-in.
backup() {
  b="${INSTALLER_BACKUPS:-/var/lib/installer/script-backups}$1"
  mkdir -p -- "$(dirname -- "$b")"
  cp -p -- "$1" "$b"
}

# write_file PATH MODE CONTENT: replace PATH atomically, keeping a backup, only when different.
write_file() {
  if [ -f "$1" ] && [ "$(cat -- "$1"; printf x)" = "${3}x" ]; then
    if [ "$(stat -c %a -- "$1")" != "$(printf '%o' "0$2")" ]; then chmod "$2" "$1"; note_changed "$1"; fi
    return 0
  fi
  mkdir -p -- "$(dirname -- "$1")"
  tmp=$(mktemp -- "$1.installer.XXXXXX")
  printf '%s' "$3" > "$tmp"
  chmod "$2" "$tmp"
  if [ -f "$1" ]; then backup "$1"; fi
  mv -f -- "$tmp" "$1"
  note_changed "$1"
  say "wrote $1"
}

# key_found FILE: the fingerprint of each key FILE holds, a line each, `expired:` before one
# whose self-signature says it has expired (gpg's validity `e`). gpg reads in a home of its
# own, thrown away: nothing is left in root's ~/.gnupg.
key_found() {
  gpg_home=$(mktemp -d)
  gpg --homedir "$gpg_home" --show-keys --with-colons "$1" 2>/dev/null | awk -F: '$1 == "pub" { p = 1; e = ($2 == "e") ? "expired:" : ""; next } $1 == "fpr" && p { print e $10; p = 0 }'
  rm -rf -- "$gpg_home"
}

# fetch_key URL DEST FINGERPRINT...: download a key, accept it only if it holds exactly one of
# the fingerprints (no other key) and has not expired, store it at DEST.
fetch_key() {
  url=$1; dest=$2; shift 2
  tmp=$(mktemp)
  curl -fsSL --proto '=https,http' -o "$tmp" -- "$url"
  found=$(key_found "$tmp")
  count=$(printf '%s\n' "$found" | grep -c . || true)
  ok=''
  want_ok=''
  for want in "$@"; do
    if [ "$count" = 1 ] && [ "$found" = "$want" ]; then ok=1; want_ok=$want; fi
    if [ "$count" = 1 ] && [ "$found" = "expired:$want" ]; then
      rm -f -- "$tmp"
      say "the key at $url is the pinned key $want, but its self-signature says it has expired, so apt and dnf would refuse what it signs; nothing stored. Fetch it again from the vendor (or refresh your mirror's copy), then run again"
      exit 1
    fi
  done
  if [ -z "$ok" ]; then
    rm -f -- "$tmp"
    say "the key at $url has fingerprint(s) '$(printf '%s\n' "$found" | sed 's/^expired://')', not the one expected; nothing stored"
    exit 1
  fi
  # The key's bytes, unchanged (a binary key must not go through a shell variable).
  mkdir -p -- "$(dirname -- "$dest")"
  if [ -f "$dest" ]; then backup "$dest"; fi
  chmod 0644 "$tmp"
  mv -f -- "$tmp" "$dest"
  note_changed "$dest"
  say "stored the key $want_ok at $dest"
}

# key_is DEST FINGERPRINT...: DEST already holds exactly one of the fingerprints, unexpired
# (an expired one is fetched again: vendors extend keys in place).
key_is() {
  dest=$1; shift
  [ -f "$dest" ] || return 1
  found=$(key_found "$dest")
  for want in "$@"; do [ "$found" = "$want" ] && return 0; done
  return 1
}

# resolve_version PIN NAME_FIELD VERSION_FIELD SEPARATOR NAME... < listing: the newest version
# whose leading components are PIN (after any epoch), never a substring match.
resolve_version() {
  pin=$1; nf=$2; vf=$3; sep=$4; shift 4
  names=" $* "
  awk -v pin="$pin" -v nf="$((nf + 1))" -v vf="$((vf + 1))" -v sep="$sep" -v names="$names" '
    BEGIN { if (sep != "") FS = sep }
    {
      name = $nf; gsub(/^[ \t]+|[ \t]+$/, "", name)
      v = $vf; gsub(/^[ \t]+|[ \t]+$/, "", v)
      if (index(names, " " name " ") == 0 || v == "") next
      rest = v; if (pin !~ /:/) sub(/^[0-9]+:/, "", rest)
      if (substr(rest, 1, length(pin)) != pin) next
      after = substr(rest, length(pin) + 1, 1)
      if (after ~ /[0-9A-Za-z]/ && substr(pin, length(pin)) ~ /[0-9A-Za-z]/) next
      print v
    }' | sort -V | tail -n 1
}
