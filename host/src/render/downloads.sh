# Helpers for downloads (installer's host/src/render/downloads.sh, which its tests also check
# with shellcheck on its own); `$downloads` is the directory the preflight makes for them.
# archive_entry ARCHIVE MEMBER: print the name of MEMBER in the gzip'd tar ARCHIVE as the
# archive spells it (with or without ./), failing unless there is exactly one such entry and
# it is a regular file, as run insists.
archive_entry() {
  tar -tvzf "$1" | awk -v m="$2" '
    { n = $NF; sub(/^\.\//, "", n) }
    n == m { c++; kind = substr($1, 1, 1); name = $NF }
    END { if (c == 1 && kind == "-") print name; else exit 1 }'
}

# fetch_verified URL SHA256 MEMBER: download URL into $downloads and stop unless its sha256 is
# SHA256 and, for a MEMBER of an archive ('' for none), the archive holds it once, as a
# regular file. Called in the preflight, so a wrong file stops the script before anything
# changes.
fetch_verified() {
  curl -fsSL --proto '=https,http' --max-time 300 --max-filesize 268435456 -o "$downloads/$2" -- "$1"
  if ! printf '%s  %s\n' "$2" "$downloads/$2" | sha256sum -c --status; then
    say "$1 does not have the pinned sha256 $2 (a changed release, another file on a mirror, or tampering); nothing was changed"
    exit 1
  fi
  if [ -n "$3" ] && ! archive_entry "$downloads/$2" "$3" >/dev/null; then
    say "$1 does not hold $3 once, as a regular file; nothing was changed"
    exit 1
  fi
}

# install_download SHA256 MEMBER PATH MODE: install the fetched file, or its MEMBER when it is a
# gzip'd tar ('' for the file itself), at PATH atomically, owned by root, keeping a backup,
# only when different.
install_download() {
  new=$(mktemp -- "$downloads/new.XXXXXX")
  if [ -n "$2" ]; then
    entry=$(archive_entry "$downloads/$1" "$2")
    tar -xzOf "$downloads/$1" -- "$entry" > "$new"
  else
    cat -- "$downloads/$1" > "$new"
  fi
  if [ -f "$3" ] && cmp -s -- "$new" "$3"; then
    if [ "$(stat -c %a -- "$3")" != "$(printf '%o' "0$4")" ]; then chmod "$4" "$3"; note_changed "$3"; fi
    if [ "$(stat -c %u:%g -- "$3")" != 0:0 ]; then chown 0:0 -- "$3"; note_changed "$3"; fi
    return 0
  fi
  mkdir -p -- "$(dirname -- "$3")"
  tmp=$(mktemp -- "$3.installer.XXXXXX")
  cat -- "$new" > "$tmp"
  chmod "$4" "$tmp"
  if [ -f "$3" ]; then backup "$3"; fi
  mv -f -- "$tmp" "$3"
  note_changed "$3"
  say "installed $3"
}
