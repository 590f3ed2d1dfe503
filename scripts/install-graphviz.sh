#!/usr/bin/env bash
# Install Graphviz's `dot` (renders the computation-graph pictures) where we can.
# Never fails: without `dot` the library still writes the graph's DOT source.
command -v dot >/dev/null 2>&1 && exit 0
if command -v apt-get >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo -n"
    if $sudo apt-get update -qq >/dev/null 2>&1 && $sudo apt-get install -y -qq graphviz >/dev/null 2>&1; then
        exit 0
    fi
elif command -v brew >/dev/null 2>&1; then
    brew install graphviz >/dev/null 2>&1 && exit 0
fi
echo "Graphviz's dot is not installed (apt-get install graphviz | brew install graphviz | conda install graphviz)" >&2
exit 0
