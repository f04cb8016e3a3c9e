#!/bin/sh
# A toy database: records each boot in its data volume, then answers on 5432.
set -e
mkdir -p /data/www
date -u +%Y-%m-%dT%H:%M:%SZ >> /data/boots.log
echo ready > /data/www/ready.txt
# PID 1 gets no default signal handling, so sh forwards TERM itself.
httpd -f -p 5432 -h /data/www &
trap 'kill $!; exit 0' TERM INT
wait
