#!/bin/sh
# certbot deploy hook for moq-relay. Install as /etc/letsencrypt/renewal-hooks/deploy/moq-relay
# (mode 0755; certbot runs it after every issuance and renewal), or name it once with
# `certbot ... --deploy-hook /etc/letsencrypt/renewal-hooks/deploy/moq-relay`.
#
# For a certificate the relay's config names, it lets group moq-relay read the key (certbot
# makes live/ and archive/ 0700 and each new privkeyN.pem 0600 root), then reloads the relay:
# SIGHUP, on which it reads its certificate and key again; sessions stay up.
# Checked by tests/deploy_test.ts.
set -eu

group=${MOQ_RELAY_GROUP:-moq-relay}
config=${MOQ_RELAY_CONFIG:-/etc/moq-relay/relay.toml}
lineage=${RENEWED_LINEAGE:?certbot sets RENEWED_LINEAGE}

# Some other certificate on this host (a web server's): leave it alone.
grep -qF "$lineage/" "$config" || exit 0

live=$(dirname "$lineage")
archive=$(dirname "$live")/archive
chgrp "$group" "$live" "$archive"
chmod 0750 "$live" "$archive"
# privkey.pem is a link to archive/<name>/privkeyN.pem: the file itself gets the group.
key=$(readlink -f "$lineage/privkey.pem")
chgrp "$group" "$key"
chmod 0640 "$key"

if systemctl is-active --quiet moq-relay; then
  systemctl reload moq-relay
fi
