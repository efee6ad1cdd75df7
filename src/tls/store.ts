/**
 * The relay's certificates, loaded from disk or generated: the generated one renewed before it
 * expires (listeners subscribe to changes and pick up the new certificate), the files read again
 * when asked (`reread`, then `replace` what the listeners took).
 *
 * @module
 */
import {
  CertificateError,
  generateCertificate,
  loadCertificate,
  loadTrustRoot,
  type TlsCertificate,
} from "./certificate.ts";

/** Renew a generated certificate this long before it expires. */
const RENEW_BEFORE_MS = 2 * 24 * 3600 * 1000;

/** A certificate chain file and its key file. */
export interface CertificateFiles {
  cert: string;
  key: string;
}

/** What the certificate files hold now, against what is served. */
export interface Reread {
  /** Pairs whose files hold another usable certificate, by their index in the settings. */
  changed: { index: number; certificate: TlsCertificate }[];
  /** One line per pair that cannot be used, naming the file and why. */
  refused: string[];
}

export interface TlsSettings {
  certificates: CertificateFiles[];
  generate: string[];
  /** Extra trust anchors (PEM files) for connections this relay makes. */
  roots?: string[];
}

/** Holds the certificates served; the first is the default when SNI matches none. */
export class CertificateStore implements Disposable {
  /** The file pairs' certificates, in their order, then the generated one. */
  #certificates: TlsCertificate[];
  readonly files: readonly CertificateFiles[];
  #generate: string[];
  /** Extra trust anchors (PEM text) for connections this relay makes to other relays. */
  readonly roots: readonly string[];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #listeners = new Set<(certificates: readonly TlsCertificate[]) => void>();

  private constructor(
    certificates: TlsCertificate[],
    files: CertificateFiles[],
    generate: string[],
    roots: string[],
  ) {
    this.#certificates = certificates;
    this.files = files;
    this.#generate = generate;
    this.roots = roots;
    this.#scheduleRenewal();
  }

  /**
   * Loads every configured certificate and trust root (throwing {@link CertificateError}) and
   * generates a certificate if asked.
   */
  static async load(settings: TlsSettings): Promise<CertificateStore> {
    const roots = (settings.roots ?? []).map(loadTrustRoot);
    const certificates: TlsCertificate[] = [];
    for (const { cert, key } of settings.certificates) {
      certificates.push(await loadCertificate(cert, key));
    }
    if (settings.generate.length > 0) {
      certificates.push(await generateCertificate(settings.generate));
    }
    if (certificates.length === 0) throw new CertificateError("no certificate configured");
    return new CertificateStore(certificates, settings.certificates, settings.generate, roots);
  }

  get certificates(): readonly TlsCertificate[] {
    return this.#certificates;
  }

  /** The default certificate (the first configured, else the generated one). */
  get primary(): TlsCertificate {
    const first = this.#certificates[0];
    if (!first) throw new CertificateError("no certificate configured");
    return first;
  }

  /** Calls `listener` whenever a certificate is renewed. */
  onChange(listener: (certificates: readonly TlsCertificate[]) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Reads every certificate file pair again (as at start, with the same checks). Nothing is
   * replaced: the caller serves what changed, then {@link replace}s it.
   */
  async reread(): Promise<Reread> {
    const reread: Reread = { changed: [], refused: [] };
    for (const [index, { cert, key }] of this.files.entries()) {
      let certificate: TlsCertificate;
      try {
        certificate = await loadCertificate(cert, key);
      } catch (e) {
        reread.refused.push(
          e instanceof CertificateError ? e.message : `${cert}: ${(e as Error).message}`,
        );
        continue;
      }
      const current = this.#certificates[index];
      if (current?.certPem === certificate.certPem && current.keyPem === certificate.keyPem) {
        continue;
      }
      reread.changed.push({ index, certificate });
    }
    return reread;
  }

  /** Puts a certificate read again from file pair `index` in place of the one before. */
  replace(index: number, certificate: TlsCertificate): void {
    if (!this.files[index]) throw new RangeError(`no certificate file pair ${index}`);
    this.#certificates = this.#certificates.map((c, i) => i === index ? certificate : c);
  }

  /** Replaces the generated certificate with a fresh one now. */
  async renew(): Promise<TlsCertificate | undefined> {
    if (this.#generate.length === 0) return undefined;
    const fresh = await generateCertificate(this.#generate);
    this.#certificates = this.#certificates.map((c) => c.generated ? fresh : c);
    this.#scheduleRenewal();
    for (const listener of this.#listeners) listener(this.#certificates);
    return fresh;
  }

  #scheduleRenewal(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const generated = this.#certificates.find((c) => c.generated);
    if (!generated) return;
    // setTimeout holds at most 2^31-1 ms (~24.8 days); a 14-day certificate fits.
    const delay = Math.max(0, generated.notAfter.getTime() - Date.now() - RENEW_BEFORE_MS);
    const timer = setTimeout(() => void this.renew(), delay);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  [Symbol.dispose](): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#listeners.clear();
  }
}
