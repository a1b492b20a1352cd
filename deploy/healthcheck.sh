#!/bin/bash
# The image's health check: 200 from GET /healthz on the API's port or on a
# worker's ops port, whichever this container serves. The slim image has no
# curl; bash's /dev/tcp speaks the few bytes of HTTP/1.0 this needs.
set -u

healthy() {
  local host=${1%:*} port=${1##*:} status
  case $host in 0.0.0.0 | "[::]" | "") host=127.0.0.1 ;; esac
  exec 3<>"/dev/tcp/${host//[\[\]]/}/$port" || return 1
  printf 'GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
  read -r -t 4 _ status _ <&3
  exec 3<&-
  [ "${status:-}" = 200 ]
}

healthy "${MIXDOWN_LISTEN:-127.0.0.1:8080}" 2>/dev/null ||
  healthy "${MIXDOWN_WORKER_LISTEN:-127.0.0.1:9091}" 2>/dev/null
