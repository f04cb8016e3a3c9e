#!/bin/sh
# A toy API: publishes where its database is and the token it was given, then serves.
set -e
mkdir -p /tmp/www
echo "db=${DB_ADDR}" > /tmp/www/status.txt
[ -n "${API_TOKEN}" ] && echo "token=set" >> /tmp/www/status.txt
# PID 1 gets no default signal handling, so sh forwards TERM itself.
httpd -f -p 8080 -h /tmp/www &
trap 'kill $!; exit 0' TERM INT
wait
