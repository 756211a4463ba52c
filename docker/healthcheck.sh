#!/bin/bash
# Image HEALTHCHECK without curl in the image: GET /health over bash's /dev/tcp; healthy on 200.
# Follows DRAGOMAN_PORT; a port given as a --port flag is invisible here, so set the variable.
set -euo pipefail
exec 3<>"/dev/tcp/127.0.0.1/${DRAGOMAN_PORT:-8080}"
printf 'GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
IFS= read -r -t 3 status <&3
[[ $status == HTTP/1.?" 200 "* ]]
