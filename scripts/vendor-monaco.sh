#!/usr/bin/env bash
# Recipe for static/vendor/monaco-editor-<version>/: the Monaco editor bundled with esbuild, with
# only the Python language and the editor worker (the full package is ~100 MB; this is ~4.5 MB).
# Run it by hand when bumping a version; the output is committed, so neither `make run` nor CI
# needs npm. Writes monaco.js (sets window.monaco), monaco.css, the codicon font, and
# editor.worker.js (found next to monaco.js at run time).
set -euo pipefail
cd "$(dirname "$0")/.."
MONACO=0.57.0
ESBUILD=0.28.2
out="static/vendor/monaco-editor-$MONACO"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "monaco-editor@$MONACO" >/dev/null \
  && tar xzf "monaco-editor-$MONACO.tgz" \
  && npm install --silent --no-save --no-audit --no-fund "esbuild@$ESBUILD" >/dev/null)
editor="$work/package/esm/vs/editor"

# The entry: editor.main.js without its languages (and their LSP client), plus Python only.
{
  grep -v -e 'languages/' -e 'monaco-lsp-client' -e 'index as lsp' -e '^export ' \
    "$editor/editor.main.js"
  cat <<'JS'
import '../languages/definitions/python/register.js';
import * as api from './editor.api.js';

// The worker sits next to this bundle: find it from this script's own address.
const here = document.currentScript ? document.currentScript.src : location.href;
const workerUrl = new URL('editor.worker.js', here).href;
self.MonacoEnvironment = {
  getWorker(_moduleId, label) {
    return new Worker(workerUrl, { name: label });
  },
};
window.monaco = api;
JS
} >"$editor/rft-entry.js"

esbuild="$work/node_modules/.bin/esbuild"
rm -rf "$out" && mkdir -p "$out"
"$esbuild" "$editor/rft-entry.js" --bundle --minify --format=iife --target=es2020 \
  --loader:.ttf=file --asset-names='[name]' --legal-comments=none \
  --outfile="$out/monaco.js" --log-level=warning \
  --log-override:empty-import-meta=silent  # the worker URL comes from getWorker above
"$esbuild" "$editor/editor.worker.js" --bundle --minify --format=iife --target=es2020 \
  --legal-comments=none --outfile="$out/editor.worker.js" --log-level=warning
install -m 644 "$work/package/LICENSE" "$out/LICENSE"
install -m 644 "$work/package/ThirdPartyNotices.txt" "$out/ThirdPartyNotices.txt"
echo "vendored: monaco-editor $MONACO ($(du -sh "$out" | cut -f1)) with esbuild $ESBUILD"
ls -l "$out"
