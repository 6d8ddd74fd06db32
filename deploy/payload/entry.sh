#!/bin/sh
# The katasharp-deploy DaemonSet's entry point (deploy/daemonset.yaml), inside the payload image.
# install: install on the node, then stay up; the pod's preStop runs "uninstall".
set -eu
ARTIFACTS=/opt/katasharp-artifacts
ROOT=/opt/katasharp
: "${NODE_NAME:?NODE_NAME must name this node (the downward API's spec.nodeName)}"
case "${1:-install}" in
  install)
    "$ARTIFACTS/bin/katasharp" install --from "$ARTIFACTS" --root "$ROOT" --label-node "$NODE_NAME" ${KATASHARP_INSTALL_ARGS:-}
    trap 'exit 0' TERM INT
    while :; do sleep 3600 & wait $! || true; done
    ;;
  uninstall)
    exec "$ARTIFACTS/bin/katasharp" uninstall --root "$ROOT" --label-node "$NODE_NAME" ${KATASHARP_INSTALL_ARGS:-}
    ;;
  *)
    echo "usage: $0 install|uninstall" >&2
    exit 2
    ;;
esac
