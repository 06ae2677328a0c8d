#!/usr/bin/env bash
# Recipe for static/vendor/: fetches pinned front-end packages from the npm registry and copies
# only the files the pages load. Run it by hand when bumping a version; the output is committed,
# so neither `make run` nor CI needs npm.
set -euo pipefail
cd "$(dirname "$0")/.."
HTMX=2.0.11
HTMX_SSE=2.2.4
UPLOT=1.6.32
SWAGGER=5.35.0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "htmx.org@$HTMX" "htmx-ext-sse@$HTMX_SSE" "uplot@$UPLOT" "swagger-ui-dist@$SWAGGER" >/dev/null)
unpack() { mkdir -p "$work/$1" && tar xzf "$work/$2" -C "$work/$1"; }
unpack htmx "htmx.org-$HTMX.tgz"
unpack sse "htmx-ext-sse-$HTMX_SSE.tgz"
unpack uplot "uplot-$UPLOT.tgz"
unpack swagger "swagger-ui-dist-$SWAGGER.tgz"
rm -rf "static/vendor/htmx-"* "static/vendor/htmx-ext-sse-"* "static/vendor/uplot-"* "static/vendor/swagger-ui-dist-"*  # only ours
mkdir -p static/vendor
install -D -m 644 "$work/htmx/package/dist/htmx.min.js" "static/vendor/htmx-$HTMX/htmx.min.js"
install -D -m 644 "$work/htmx/package/LICENSE" "static/vendor/htmx-$HTMX/LICENSE"
install -D -m 644 "$work/sse/package/sse.js" "static/vendor/htmx-ext-sse-$HTMX_SSE/sse.js"
install -D -m 644 "$work/sse/package/LICENSE" "static/vendor/htmx-ext-sse-$HTMX_SSE/LICENSE"
install -D -m 644 "$work/uplot/package/dist/uPlot.iife.min.js" "static/vendor/uplot-$UPLOT/uPlot.iife.min.js"
install -D -m 644 "$work/uplot/package/dist/uPlot.min.css" "static/vendor/uplot-$UPLOT/uPlot.min.css"
install -D -m 644 "$work/uplot/package/LICENSE" "static/vendor/uplot-$UPLOT/LICENSE"
for f in swagger-ui-bundle.js swagger-ui.css LICENSE NOTICE; do
  install -D -m 644 "$work/swagger/package/$f" "static/vendor/swagger-ui-dist-$SWAGGER/$f"
done
echo "vendored: htmx $HTMX, htmx-ext-sse $HTMX_SSE, uPlot $UPLOT, swagger-ui-dist $SWAGGER"
