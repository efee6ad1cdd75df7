/**
 * The relay: config -> certificates -> (transport -> sessions -> cache, in later milestones).
 *
 * `Relay.load(config)` does everything that can fail on bad settings, so `main.ts` can turn those
 * failures into exit code 2 before anything listens; `run()` serves until the relay is closed.
 *
 * @module
 */
import type { Config } from "./config.ts";
import { logger } from "./log.ts";
import { CertificateStore } from "./tls/store.ts";

const log = logger("relay");

function formatAddress(hostname: string, port: number): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

export class Relay implements AsyncDisposable {
  readonly config: Config;
  readonly certificates: CertificateStore;

  private constructor(config: Config, certificates: CertificateStore) {
    this.config = config;
    this.certificates = certificates;
  }

  /** Loads certificates and checks everything a bad setting could break. */
  static async load(config: Config): Promise<Relay> {
    const certificates = await CertificateStore.load(config.tls);
    return new Relay(config, certificates);
  }

  /** Serves until closed. */
  run(): Promise<void> {
    const { config } = this;
    if (config.tls.disableVerify) {
      log.warn(
        "--tls-disable-verify: certificates of other relays are NOT verified (development only)",
      );
    }
    for (const cert of this.certificates.certificates) {
      log.info("certificate {names} fingerprint {fingerprint}", {
        names: cert.names.join(","),
        fingerprint: cert.fingerprint,
        expires: cert.notAfter.toISOString(),
        generated: cert.generated,
      });
    }
    const address = formatAddress(config.bind.hostname, config.bind.port);
    log.info("listen address {address} (QUIC on UDP, HTTP on TCP)", { address });
    // The QUIC/WebTransport endpoint arrives with the transport milestone; until then the relay
    // stops here, after loading the config and certificates.
    log.warn("transport not implemented yet: stopping after loading config and certificates");
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.certificates[Symbol.dispose]();
    return Promise.resolve();
  }
}
