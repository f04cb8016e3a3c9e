#!/bin/sh
# Stack member `app`: serves on 8080; its health check reaches the db by alias.
set -e
mkdir -p /tmp/www
echo "db=${DB_HOST}" > /tmp/www/index.html
# PID 1 gets no default signal handling, so sh forwards TERM itself.
httpd -f -p 8080 -h /tmp/www &
trap 'kill $!; exit 0' TERM INT
wait
