#!/usr/bin/env bash
# Regenerates tests/fixtures/moq_token/: keys and tokens made by upstream's own `moq-token`
# (crates.io moq-token-cli 0.5.48: `cargo install moq-token-cli@0.5.48`), so the tests check the
# relay against what upstream's tool writes, without CI having to build it. Tokens expire in 2100.
set -euo pipefail
out="$(dirname "$0")/../fixtures/moq_token"
rm -rf "$out" && mkdir -p "$out/private" "$out/keys"
for alg in HS256 ES256 EdDSA RS256; do
  kid="k-$(echo "$alg" | tr '[:upper:]' '[:lower:]')"
  if [ "${alg:0:2}" = HS ]; then
    moq-token generate --algorithm "$alg" --id "$kid" --out "$out/private/$kid.jwk"
    cp "$out/private/$kid.jwk" "$out/keys/$kid.jwk"
  else
    moq-token generate --algorithm "$alg" --id "$kid" --out "$out/private/$kid.jwk" \
      --public "$out/keys/$kid.jwk"
  fi
  # Publish demo/alice, subscribe to everything under demo (the legacy put/get form).
  moq-token sign --key "$out/private/$kid.jwk" --root demo --publish alice --subscribe "" \
    --expires 4102444800 >"$out/$kid.demo.jwt"
done
# A cluster link's token: everything, and the cluster's own internal/ prefix named.
moq-token sign --key "$out/private/k-es256.jwk" --publish "" --publish internal \
  --subscribe "" --subscribe internal --expires 4102444800 >"$out/k-es256.cluster.jwt"
# Expired in 2001.
moq-token sign --key "$out/private/k-es256.jwk" --root demo --subscribe "" \
  --expires 1000000000 >"$out/k-es256.expired.jwt"
