#!/bin/sh
# Stack member `db`: answers on 5432 with a readiness file.
set -e
mkdir -p /tmp/www
echo ready > /tmp/www/ready.txt
# PID 1 gets no default signal handling, so sh forwards TERM itself.
httpd -f -p 5432 -h /tmp/www &
trap 'kill $!; exit 0' TERM INT
wait
