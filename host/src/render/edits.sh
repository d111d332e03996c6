# The config-file edits of a rendered script, with the semantics of `installer run`: the
# site's file is edited where it stands, every key the plan does not own is kept, and a value
# the site set otherwise is a conflict unless the plan was made with --override. (Sourced into
# rendered scripts by host/src/render.rs; shellcheck reads this file on its own too.)

# The awk functions the TOML edits share: how lines, headers, keys and values are read.
toml_awk_lib='
    # Whitespace outside quotes removed: how headers and keys are compared.
    function norm(s,    out, i, c, q) {
      out = ""; q = ""
      for (i = 1; i <= length(s); i++) {
        c = substr(s, i, 1)
        if (q != "") { out = out c; if (c == q) q = ""; continue }
        if (c == "\"" || c == "\047") { q = c; out = out c; continue }
        if (c == " " || c == "\t") continue
        out = out c
      }
      return out
    }
    # A header or key as compared: norm, a quoted part that could be bare ("nvidia") written
    # bare and any other in double quotes, as TOML reads them all alike.
    function normkey(s,    n, out, i, c, q, part) {
      n = norm(s); out = ""; q = ""; part = ""
      for (i = 1; i <= length(n); i++) {
        c = substr(n, i, 1)
        if (q != "") {
          if (c == q) { out = out (part ~ /^[A-Za-z0-9_-]+$/ ? part : "\"" part "\""); q = ""; part = "" }
          else part = part c
          continue
        }
        if (c == "\"" || c == "\047") { q = c; continue }
        out = out c
      }
      return out q part
    }
    # The table a header line opens ("" when the line is not a header; a [[...]] array
    # header opens a section no edit touches).
    function header(line,    h) {
      if (line ~ /^[ \t]*\[\[/) return "\001"
      if (line !~ /^[ \t]*\[/) return ""
      h = line
      sub(/^[ \t]*\[/, "", h)
      sub(/\][ \t]*(#.*)?$/, "", h)
      return normkey(h)
    }
    function keyof(line,    k) {
      if (line ~ /^[ \t]*(#|$)/ || index(line, "=") == 0) return ""
      k = line
      sub(/=.*/, "", k)
      return normkey(k)
    }
    # The value of a key line, without a trailing comment (a # inside quotes is not one).
    function valueof(line,    v, out, i, c, q) {
      v = line
      sub(/^[^=]*=[ \t]*/, "", v)
      out = ""; q = ""
      for (i = 1; i <= length(v); i++) {
        c = substr(v, i, 1)
        if (q != "") { out = out c; if (c == q) q = ""; continue }
        if (c == "\"" || c == "\047") { q = c; out = out c; continue }
        if (c == "#") break
        out = out c
      }
      sub(/[ \t]+$/, "", out)
      return out
    }
    # A value as compared: norm, and a literal string (\047x\047) as the basic string it
    # equals ("x"), when it holds neither a double quote nor a backslash.
    function normval(v,    n, inner) {
      n = norm(v)
      if (n ~ /^\047[^\047]*\047$/) {
        inner = substr(n, 2, length(n) - 2)
        if (inner !~ /["\\]/) return "\"" inner "\""
      }
      return n
    }
    function opens_lines(v,    o, c) {
      if (v ~ /^("""|\047\047\047)/) return 1
      o = gsub(/\[/, "[", v) + gsub(/\{/, "{", v)
      c = gsub(/\]/, "]", v) + gsub(/\}/, "}", v)
      return o > c
    }
'

# toml_edit FILE OP TABLE KEY VALUE GUARDS: print FILE with one edit applied.
#   OP set:    KEY = VALUE in [TABLE] (the table made at the end when the file has none).
#   OP default: as set, but a KEY the table already has stays as it is.
#   OP remove: drop the elements VALUE lists (one per line) from the one-line array KEY in
#              [TABLE].
# TABLE is the header as TOML spells it ('' for the top level), VALUE a TOML literal. GUARDS
# lists, one per line, each table on the way and (after a tab) the next part, which could
# already be defined there as a dotted key or an inline table: then the file holds the
# setting in a form this script does not edit (nor does a multi-line value), and it exits 3,
# changing nothing. With STRICT 'strict', a key the file sets to another value is a conflict
# (exit 4, named on stderr) unless OVERRIDES (one per line) names it, by TABLE.KEY or KEY.
# The values reach awk through the environment, never as program text.
toml_edit() {
  TE_OP=$2 TE_TABLE=$3 TE_KEY=$4 TE_VALUE=$5 TE_GUARDS=$6 TE_STRICT=$7 TE_OVERRIDES=$8 awk "$toml_awk_lib"'
    BEGIN {
      op = ENVIRON["TE_OP"]; table = ENVIRON["TE_TABLE"]; key = ENVIRON["TE_KEY"]
      value = ENVIRON["TE_VALUE"]
      t = normkey(table); k = normkey(key)
      n_guard = split(ENVIRON["TE_GUARDS"], g, "\n")
      for (i = 1; i <= n_guard; i++) { split(g[i], pair, "\t"); gtable[i] = normkey(pair[1]); gnext[i] = normkey(pair[2]) }
    }
    { line[NR] = $0 }
    END {
      cur = ""; found = (t == ""); at = 0; last = 0; indent = ""
      for (i = 1; i <= NR; i++) {
        h = header(line[i])
        if (h != "") {
          cur = h
          if (h == t) { found = 1; last = i; indent = line[i]; sub(/[^ \t].*/, "", indent); indent = indent "  " }
          continue
        }
        lk = keyof(line[i])
        for (j = 1; j <= n_guard; j++)
          if (cur == gtable[j] && lk != "" && (lk == gnext[j] || index(lk, gnext[j] ".") == 1)) exit 3
        if (cur != t) continue
        if (lk == k) at = i
        if (line[i] !~ /^[ \t]*(#.*)?$/) {
          last = i
          if (lk != "") { indent = line[i]; sub(/[^ \t].*/, "", indent) }
        }
      }
      if (at && opens_lines(valueof(line[at]))) exit 3
      if (op == "set" || op == "default") {
        if (at && op == "default") {
          # A value already there stays, whatever it is.
        } else if (at) {
          if (normval(valueof(line[at])) != normval(value)) {
            full = (table == "" ? key : table "." key)
            if (ENVIRON["TE_STRICT"] == "strict" && index("\n" ENVIRON["TE_OVERRIDES"] "\n", "\n" full "\n") == 0 && index("\n" ENVIRON["TE_OVERRIDES"] "\n", "\n" key "\n") == 0) {
              printf "`%s` is %s where the plan wants %s\n", full, valueof(line[at]), value > "/dev/stderr"
              exit 4
            }
            pre = line[at]; sub(/=.*/, "", pre); sub(/[ \t]*$/, "", pre)
            line[at] = pre " = " value
          }
        } else if (found) {
          ins = (t == "" ? "" : indent) key " = " value
          for (i = NR; i > last; i--) line[i + 1] = line[i]
          line[last + 1] = ins
          NR_OUT = NR + 1
        } else {
          line[NR + 1] = ""
          line[NR + 2] = "[" table "]"
          line[NR + 3] = "  " key " = " value
          NR_OUT = NR + 3
        }
      } else if (op == "remove" && at) {
        v = valueof(line[at])
        if (v !~ /^\[.*\]$/) exit 3
        inner = substr(v, 2, length(v) - 2)
        n_drop = split(value, drop, "\n")
        n = 0; out = ""; cur_el = ""; q = ""
        for (i = 1; i <= length(inner) + 1; i++) {
          c = (i <= length(inner)) ? substr(inner, i, 1) : ","
          if (q != "") { cur_el = cur_el c; if (c == q) q = ""; continue }
          if (c == "\"" || c == "\047") { q = c; cur_el = cur_el c; continue }
          if (c == ",") {
            e = cur_el; gsub(/^[ \t]+|[ \t]+$/, "", e); cur_el = ""
            if (e == "") continue
            keep = 1
            for (d = 1; d <= n_drop; d++) if (normval(e) == normval(drop[d])) keep = 0
            if (keep) { out = out (n ? ", " : "") e; n++ } else removed = 1
            continue
          }
          cur_el = cur_el c
        }
        if (removed) {
          pre = line[at]; sub(/=.*/, "", pre); sub(/[ \t]*$/, "", pre)
          line[at] = pre " = [" out "]"
        }
      }
      total = NR_OUT ? NR_OUT : NR
      for (i = 1; i <= total; i++) print line[i]
    }' "$1"
}

# toml_select FILE TABLES WHEN_KEY WHEN_VALUES: print, one per line, the name of every table
# directly below [TABLES] whose WHEN_KEY is one of WHEN_VALUES (TOML literals, one per line), as
# a header spells it. A table defined inline or by dotted keys in [TABLES] is a form this script
# does not edit: exit 3.
toml_select() {
  TS_TABLES=$2 TS_KEY=$3 TS_VALUES=$4 awk "$toml_awk_lib"'
    BEGIN {
      t = normkey(ENVIRON["TS_TABLES"]); k = normkey(ENVIRON["TS_KEY"])
      n_values = split(ENVIRON["TS_VALUES"], values, "\n")
      for (i = 1; i <= n_values; i++) wanted[normval(values[i])] = 1
    }
    {
      h = header($0)
      if (h != "") {
        cur = ""
        if (h == t) { in_tables = 1; next }
        in_tables = 0
        if (index(h, t ".") == 1) {
          rest = substr(h, length(t) + 2)
          # One more part, and no deeper: a dot outside quotes would mean a sub-table.
          plain = rest; gsub(/"[^"]*"|\047[^\047]*\047/, "", plain)
          if (index(plain, ".") == 0) cur = rest
        }
        next
      }
      lk = keyof($0)
      if (in_tables && lk != "") exit 3
      if (cur != "" && lk == k && normval(valueof($0)) in wanted && !(cur in printed)) { print cur; printed[cur] = 1 }
    }' "$1"
}

# toml_apply FILE STRICT OVERRIDES EDITS...: print FILE with each edit (OP TABLE KEY VALUE
# GUARDS, five arguments per edit) applied; a form it does not edit, or (STRICT 'strict') a
# value the site set otherwise that OVERRIDES does not name, stops the script.
toml_apply() {
  file=$1; strict=$2; overrides=$3; shift 3
  text=$(cat -- "$file")
  while [ "$#" -ge 5 ]; do
    if [ "$1" = each ]; then
      # each TABLES WHEN_KEY WHEN_VALUES 'BELOW<tab>ALIASES<tab>VALUE': a set in every
      # selected table, BELOW dotted (plain names), the last part spelt as an alias where the
      # table already has it.
      printf '%s\n' "$text" > "$file.installer-edit"
      rc=0
      names=$(toml_select "$file.installer-edit" "$2" "$3" "$4") || rc=$?
      rm -f -- "$file.installer-edit"
      if [ "$rc" = 3 ]; then
        say "$file defines a table of [$2] inline or by dotted keys, which this script does not edit; use 'installer run', which edits any TOML"
        exit 2
      fi
      [ "$rc" = 0 ] || exit "$rc"
      below=$(printf '%s' "$5" | cut -f1); aliases=$(printf '%s' "$5" | cut -f2); value=$(printf '%s' "$5" | cut -f3-)
      tables=$2
      shift 5
      # One name a line, as toml_select prints them; a name may hold spaces, never expands.
      old_ifs=$IFS; IFS='
'
      set -f
      for name in $names; do
        table="$tables.$name"; guards="$tables	$name"
        rest=$below
        while [ "${rest#*.}" != "$rest" ]; do
          part=${rest%%.*}; rest=${rest#*.}
          guards="$guards
$table	$part"
          table="$table.$part"
        done
        key=$rest
        printf '%s\n' "$text" > "$file.installer-edit"
        for alias in $aliases; do
          if TH_TABLE=$table TH_KEY=$alias awk "$toml_awk_lib"'
            BEGIN { t = normkey(ENVIRON["TH_TABLE"]); k = normkey(ENVIRON["TH_KEY"]) }
            { h = header($0); if (h != "") { cur = h; next } if (cur == t && keyof($0) == k) found = 1 }
            END { exit !found }' "$file.installer-edit"; then key=$alias; fi
        done
        set -- set "$table" "$key" "$value" "$guards" "$@"
      done
      set +f; IFS=$old_ifs
      rm -f -- "$file.installer-edit"
      continue
    fi
    printf '%s\n' "$text" > "$file.installer-edit"
    rc=0
    text=$(toml_edit "$file.installer-edit" "$1" "$2" "$3" "$4" "$5" "$strict" "$overrides") || rc=$?
    rm -f -- "$file.installer-edit"
    if [ "$rc" = 3 ]; then
      say "$file sets [$2] $3 as a dotted key, an inline table or a multi-line value, which this script does not edit; use 'installer run', which edits any TOML"
      exit 2
    fi
    if [ "$rc" = 4 ]; then
      say "$file: the site's value differs from the plan's (see above); say which wins with --override KEY when rendering, or change the file by hand"
      exit 2
    fi
    [ "$rc" = 0 ] || exit "$rc"
    shift 5
  done
  printf '%s\n' "$text"
}

# json_merge FILE OURS OVERRIDE...: print FILE's object with OURS merged in as `installer
# run` merges it: objects key by key, arrays gain the entries they lack, and a value (or a
# `name=value` entry) the site set otherwise stops the script unless an OVERRIDE names the
# key (dotted from the top) or its last part.
json_merge() {
  file=$1; ours=$2; shift 2
  overrides=$(printf '%s\n' "$@" | jq -R . | jq -s .)
  jq --argjson ours "$ours" --argjson overrides "$overrides" '
    def wins($path): ($path | join(".")) as $k | ($overrides | index([$k]) or index([$path[-1]]));
    def setting: if type == "string" and test("=") then split("=")[0] else null end;
    def union($o; $path):
      reduce $o[] as $e (.;
        ($e | setting) as $name
        | if index([$e]) then .
          elif $name != null and any(.[]; setting == $name) then
            if wins($path) then map(if setting == $name then $e else . end)
            else error("`\($path | join("."))` holds \(first(.[] | select(setting == $name)) | tojson) where the plan wants \($e | tojson)") end
          else . + [$e] end);
    def merge($o; $path):
      reduce ($o | keys_unsorted[]) as $k (.;
        ($path + [$k]) as $p
        | if has($k) | not then .[$k] = $o[$k]
          elif (.[$k] | type) == "object" and ($o[$k] | type) == "object" then .[$k] |= merge($o[$k]; $p)
          elif (.[$k] | type) == "array" and ($o[$k] | type) == "array" then .[$k] |= union($o[$k]; $p)
          elif .[$k] == $o[$k] then .
          elif wins($p) then .[$k] = $o[$k]
          else error("`\($p | join("."))` is \(.[$k] | tojson) where the plan wants \($o[$k] | tojson)") end);
    if type != "object" then error("the file does not hold a JSON object") else merge($ours; []) end
  ' "$file"
}

# json_merge_or_stop FILE OURS OVERRIDE...: json_merge, stopping the script on a conflict.
json_merge_or_stop() {
  json_merge "$@" || { say "$1: the site's values differ from the plan's (see above); say which wins with --override KEY when rendering, or change the file by hand"; exit 2; }
}

# json_file FILE MODE OURS OVERRIDE...: merge OURS into FILE (or write OURS when there is no
# file), as `installer run` does; a conflict stops the script, changing nothing.
json_file() {
  file=$1; mode=$2; ours=$3; shift 3
  if [ -f "$file" ]; then
    merged=$(json_merge_or_stop "$file" "$ours" "$@")
  else
    merged=$(printf '%s' "$ours" | jq .)
  fi
  write_file "$file" "$mode" "$merged
"
}

# yaml_set FILE KEY VALUE...: print the YAML document FILE with each top-level KEY set to the
# plain scalar VALUE, as `installer run` sets it: the key's line replaced where it stands
# (with any block value indented below it), a key the file lacks appended, every other line
# and comment kept; a key already holding VALUE is left exactly as written.
yaml_set() {
  file=$1; shift
  [ -f "$file" ] || { say "$file does not exist: there is no YAML document to edit"; exit 1; }
  if grep -q "$(printf '\r')" "$file"; then
    say "$file has CRLF line endings; edit it by hand"; exit 1
  fi
  awk '
    BEGIN {
      for (i = 1; i + 1 < ARGC; i += 2) { key[++n] = ARGV[i]; val[ARGV[i]] = ARGV[i + 1]; ARGV[i] = ""; ARGV[i + 1] = "" }
    }
    /^---/ && content { print FILENAME " holds more than one YAML document" > "/dev/stderr"; bad = 1; exit 1 }
    /^[^#]/ && !/^---/ { content = 1 }
    skipping && /^[ \t]/ { next }
    { skipping = 0 }
    {
      for (j = 1; j <= n; j++) {
        k = key[j]
        if (index($0, k ":") == 1 && (length($0) == length(k) + 1 || substr($0, length(k) + 2, 1) ~ /[ \t]/)) {
          rest = substr($0, length(k) + 2); sub(/^[ \t]+/, "", rest); sub(/[ \t]+(#.*)?$/, "", rest)
          if (rest ~ /^".*"$/ || rest ~ /^\047.*\047$/) rest = substr(rest, 2, length(rest) - 2)
          seen[k] = 1
          if (rest == val[k]) { print; next }
          print k ": " val[k]; skipping = 1; next
        }
      }
      print
    }
    END { if (bad) exit 1; for (j = 1; j <= n; j++) if (!(key[j] in seen)) print key[j] ": " val[key[j]] }
  ' "$@" "$file"
}

# kubeadm_file EDIT FILE MODE ARGS...: the file kubeadm wrote, edited in place by the function
# EDIT (yaml_set or env_flags) with ARGS, as `installer run` edits it: a file that is not there
# is left unwritten, with a warning; an unchanged one (however its last line ends) is left as
# it is.
kubeadm_file() {
  edit=$1; file=$2; mode=$3; shift 3
  if [ ! -f "$file" ]; then
    say "warning: $file does not exist yet, so it was not edited: kubeadm writes it at kubeadm init or join"
    return 0
  fi
  edited=$("$edit" "$file" "$@") || exit 1
  [ "$edited" = "$(cat "$file")" ] && return 0
  write_file "$file" "$mode" "$edited
"
}

# env_flags FILE VARIABLE [set FLAG VALUE | drop FLAG]...: print FILE with the flags its
# VARIABLE holds edited as `installer run` edits them: a set FLAG takes VALUE where it stands
# (`--flag=x` or `--flag x`) or is appended, a dropped FLAG goes, every other flag and line
# stays as written.
env_flags() {
  file=$1; var=$2; shift 2
  [ -f "$file" ] || { say "$file does not exist: there are no flags to edit"; exit 1; }
  if grep -q "$(printf '\r')" "$file"; then
    say "$file has CRLF line endings; edit it by hand"; exit 1
  fi
  # systemd takes the last assignment of a variable: that one is edited (two passes).
  awk -v var="$var" '
    BEGIN {
      for (i = 1; i < ARGC - 2; ) {
        if (ARGV[i] == "set") { setv[ARGV[i + 1]] = ARGV[i + 2]; order[++n] = ARGV[i + 1]; ARGV[i] = ""; ARGV[i + 1] = ""; ARGV[i + 2] = ""; i += 3 }
        else { drop[ARGV[i + 1]] = 1; ARGV[i] = ""; ARGV[i + 1] = ""; i += 2 }
      }
    }
    function join(out, word) { return out == "" ? word : out " " word }
    function edit(value,    toks, m, i, t, name, eq, ours, out, done, j) {
      m = split(value, toks, /[ \t]+/); out = ""
      for (i = 1; i <= m; i++) {
        t = toks[i]; if (t == "") continue
        eq = index(t, "="); name = eq ? substr(t, 1, eq - 1) : t
        ours = (name in setv) || (name in drop)
        if (ours && !eq && i < m && substr(toks[i + 1], 1, 1) != "-") i++
        if (name in setv) { if (!(name in done)) { out = join(out, name "=" setv[name]); done[name] = 1 } }
        else if (!ours) out = join(out, t)
      }
      for (j = 1; j <= n; j++) if (!(order[j] in done)) out = join(out, order[j] "=" setv[order[j]])
      return out
    }
    FNR == NR { if (index($0, var "=") == 1) last = FNR; next }
    FNR == last {
      found = 1; value = substr($0, length(var) + 2); q = ""
      if (value ~ /^".*"$/) { q = "\""; value = substr(value, 2, length(value) - 2) }
      new = edit(value); norm = value; gsub(/[ \t]+/, " ", norm); sub(/^ /, "", norm); sub(/ $/, "", norm)
      if (new == norm) print; else print var "=" q new q
      next
    }
    { print }
    END { if (!found) print var "=\"" edit("") "\"" }
  ' "$@" "$file" "$file"
}
