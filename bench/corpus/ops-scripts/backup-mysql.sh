#!/bin/sh
# Nightly logical backup of the portal database, run from cron on db-backup01.
set -eu

STAMP=$(date +%Y%m%d-%H%M)
DEST=/srv/backups/portal
mkdir -p "$DEST"

mysqldump -h db01.acme.lan -u backup -p'Bk!up#Portal2023' --single-transaction --routines portal | gzip > "$DEST/portal-$STAMP.sql.gz"

# Offsite copy
export RESTIC_PASSWORD_FILE=/etc/restic/password
export AWS_ACCESS_KEY_ID=$(cat /etc/restic/aws_key_id)
restic -r s3:s3.eu-west-1.amazonaws.com/acme-backups backup "$DEST"

find "$DEST" -name '*.sql.gz' -mtime +14 -delete
