# Sourced by the platform scripts: `need COMMAND PACKAGE` installs PACKAGE from Debian when
# COMMAND is missing (refreshing the package lists once if the first attempt fails).
need() {
  command -v "$1" >/dev/null && return
  echo "installing $2 (for $1)"
  apt-get install -y -qq --no-install-recommends "$2" >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "$2" >/dev/null; }
}
