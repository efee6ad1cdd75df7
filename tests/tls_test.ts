import { deepEqual, equal, match, ok, rejects } from "assert";
import {
  CertificateError,
  generateCertificate,
  GENERATED_VALIDITY_MS,
  loadCertificate,
  sha256Hex,
} from "../src/tls/certificate.ts";
import { decodePem } from "../src/tls/pem.ts";
import { CertificateStore } from "../src/tls/store.ts";

const dir = new URL("./fixtures/tls/", import.meta.url).pathname;

Deno.test("loads PEM chains with PKCS#8, SEC1 and PKCS#1 keys", async () => {
  for (
    const [cert, key] of [["ec.pem", "ec.key"], ["ec.pem", "ec-sec1.key"], ["rsa.pem", "rsa.key"], [
      "rsa.pem",
      "rsa-pkcs1.key",
    ]]
  ) {
    const loaded = await loadCertificate(dir + cert, dir + key);
    const der = decodePem(Deno.readTextFileSync(dir + cert))[0]?.der;
    ok(der);
    equal(loaded.fingerprint, await sha256Hex(der));
    match(loaded.fingerprint, /^[0-9a-f]{64}$/);
    equal(loaded.generated, false);
  }
  deepEqual((await loadCertificate(dir + "ec.pem", dir + "ec.key")).names, [
    "localhost",
    "127.0.0.1",
  ]);
});

Deno.test("a key that belongs to another certificate is refused, naming both files", async () => {
  await rejects(
    loadCertificate(dir + "ec.pem", dir + "other.key"),
    (e: unknown) =>
      e instanceof CertificateError &&
      /other\.key: this key does not match the certificate .*ec\.pem/.test(e.message),
  );
  await rejects(loadCertificate(dir + "ec.pem", dir + "rsa.key"), /does not match/);
  await rejects(loadCertificate(dir + "rsa.pem", dir + "ec-sec1.key"), /does not match/);
});

Deno.test("missing and malformed files get one clear line", async () => {
  await rejects(
    loadCertificate(dir + "missing.pem", dir + "ec.key"),
    /cannot read certificate .*missing\.pem: no such file/,
  );
  await rejects(
    loadCertificate(dir + "ec.pem", dir + "missing.key"),
    /cannot read key .*missing\.key: no such file/,
  );
  await rejects(
    loadCertificate(dir + "garbage.pem", dir + "ec.key"),
    /garbage\.pem: no CERTIFICATE block/,
  );
  await rejects(loadCertificate(dir + "ec.pem", dir + "ec.pem"), /ec\.pem: no PRIVATE KEY block/);
});

Deno.test("generated certificates: ECDSA P-256, at most 14 days, names as SANs, usable by QUIC", async () => {
  const now = new Date("2026-11-24T00:00:00Z");
  const cert = await generateCertificate(["localhost", "127.0.0.1", "::1"], now);
  equal(cert.generated, true);
  deepEqual(cert.names, ["localhost", "127.0.0.1", "::1"]);
  equal(cert.fingerprint, await sha256Hex(cert.leafDer));
  const x509 = await import("@peculiar/x509");
  const parsed = new x509.X509Certificate(cert.leafDer);
  ok(parsed.notAfter.getTime() - parsed.notBefore.getTime() <= GENERATED_VALIDITY_MS);
  ok(parsed.notBefore.getTime() <= now.getTime());
  equal((parsed.publicKey.algorithm as EcKeyAlgorithm).namedCurve, "P-256");
  ok(await parsed.verify({ signatureOnly: true }));

  const endpoint = new Deno.QuicEndpoint({ hostname: "127.0.0.1", port: 0 });
  try {
    endpoint.listen({ cert: cert.certPem, key: cert.keyPem, alpnProtocols: ["h3"] });
  } finally {
    endpoint.close();
  }
});

Deno.test("the store renews a generated certificate and tells listeners", async () => {
  using store = await CertificateStore.load({ certificates: [], generate: ["localhost"] });
  const before = store.primary.fingerprint;
  let seen = "";
  store.onChange((certs) => seen = certs[0]?.fingerprint ?? "");
  const fresh = await store.renew();
  ok(fresh);
  equal(seen, fresh.fingerprint);
  ok(seen !== before);
  equal(store.primary.fingerprint, fresh.fingerprint);
});
