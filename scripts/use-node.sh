# Sourced by the scripts that run Node: when this machine's node is older than the
# project's (.nvmrc), put the Node that scripts/setup.sh installed first on PATH.
# npm itself lives there too, so `npm` runs on that Node.
_nvmrc=$(tr -d ' \nv' <"$(dirname "${BASH_SOURCE[0]}")/../.nvmrc")
NODE_PREFIX=/opt/node-v$_nvmrc
if [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)" -lt "${_nvmrc%%.*}" ] && [ -x "$NODE_PREFIX/bin/node" ]; then
  export PATH="$NODE_PREFIX/bin:$PATH"
fi
unset _nvmrc
