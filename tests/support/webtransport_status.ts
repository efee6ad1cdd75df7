/**
 * The HTTP status a relay answers a WebTransport CONNECT with, from the project's own client
 * (browsers do not show it): 200 when the session is let in (it is closed again at once).
 */
import { fingerprintBytes, generateCertificate } from "../../src/tls/certificate.ts";
import { Endpoint } from "../../src/transport/endpoint.ts";
import { ConnectRefused } from "../../src/transport/webtransport.ts";

export async function webTransportStatus(
  url: string | URL,
  fingerprint: string,
  protocol: string,
): Promise<number> {
  const cert = await generateCertificate(["127.0.0.1"]);
  const endpoint = Endpoint.listen({
    hostname: "127.0.0.1",
    port: 0,
    certPem: cert.certPem,
    keyPem: cert.keyPem,
    alpns: [],
  });
  try {
    const session = await endpoint.connect(new URL(url), {
      protocols: [protocol],
      serverCertificateHashes: [fingerprintBytes(fingerprint)],
    });
    await session.close({ code: 0, reason: "probe done" });
    return 200;
  } catch (e) {
    if (e instanceof ConnectRefused) return e.status;
    throw e;
  } finally {
    endpoint.close();
  }
}
