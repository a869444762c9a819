# Sourced by .ci/gpu and .ci/docker. Everything here is read from apt's own
# sources on this machine, so no archive host name is written into the
# repository.

# debian_mirror: the URI apt fetches this release's main suite from (for
# debootstrap); needs apt's lists (apt-get update).
debian_mirror() {
  local codename
  codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
  apt-cache policy | awk -v c="$codename" -v a="$(dpkg --print-architecture)" '
    $3 == c "/main" && $4 == a && $5 == "Packages" { print $2; exit }'
}

# debian_sources_with NAME COMPONENTS...: copies apt's Debian entries for this
# release (the release, -updates, -security) with their options (Signed-By
# included) and their components replaced by COMPONENTS into
# /etc/apt/sources.list.d/NAME.sources (deb822 stanzas) and NAME.list
# (one-line entries); fails when there is none.
debian_sources_with() {
  local name=$1; shift
  local dir=/etc/apt/sources.list.d codename comps="$*"
  codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
  local sources=() lists=() f
  for f in /etc/apt/sources.list.d/*.sources; do [ -f "$f" ] && sources+=("$f"); done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do [ -f "$f" ] && lists+=("$f"); done
  if [ ${#sources[@]} -gt 0 ]; then
    awk -v c="$codename" -v comps="$comps" 'BEGIN { RS = ""; ORS = "\n\n" }
      {
        n = split($0, line, "\n"); ok = 0; out = ""
        for (i = 1; i <= n; i++) {
          if (line[i] ~ /^Suites:/) { m = split(line[i], s, /[ \t]+/); for (j = 2; j <= m; j++) if (s[j] ~ ("^" c "(-updates|-security)?$")) ok = 1 }
          if (line[i] ~ /^Types:/ && line[i] !~ /[ \t]deb([ \t]|$)/) { ok = -1 }
          if (line[i] ~ /^Enabled:[ \t]*no/) { ok = -1 }
        }
        if (ok != 1) next
        for (i = 1; i <= n; i++) {
          if (line[i] ~ /^#/) continue
          if (line[i] ~ /^Types:/) line[i] = "Types: deb"
          if (line[i] ~ /^Components:/) line[i] = "Components: " comps
          out = out line[i] "\n"
        }
        printf "%s", out "\n"
      }' "${sources[@]}" >"$dir/$name.sources.tmp"
  fi
  if [ ${#lists[@]} -gt 0 ]; then
    awk -v c="$codename" -v comps="$comps" '
      $1 == "deb" {
        i = 2
        if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
        if ($(i + 1) !~ ("^" c "(-updates|-security)?$")) next
        out = ""
        for (j = 1; j <= i + 1; j++) out = out $j " "
        print out comps
      }' "${lists[@]}" >"$dir/$name.list.tmp"
  fi
  local f
  for f in "$dir/$name.sources" "$dir/$name.list"; do
    if [ -s "$f.tmp" ]; then mv "$f.tmp" "$f"; else rm -f "$f.tmp"; fi
  done
  [ -f "$dir/$name.sources" ] || [ -f "$dir/$name.list" ] || { echo "no Debian entry in apt's sources" >&2; return 1; }
}
