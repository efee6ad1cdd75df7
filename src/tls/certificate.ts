/**
 * TLS certificates: load a PEM chain and key from disk (checking they belong together), or
 * generate a self-signed ECDSA P-256 certificate that browsers accept through
 * `serverCertificateHashes` (at most 14 days of validity).
 *
 * @module
 */
import * as x509 from "@peculiar/x509";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import { ECParameters, ECPrivateKey, id_ecPublicKey } from "@peculiar/asn1-ecc";
import { PrivateKeyInfo } from "@peculiar/asn1-pkcs8";
import { AlgorithmIdentifier } from "@peculiar/asn1-x509";
import { decodePem, encodePem } from "./pem.ts";

/** A certificate chain and its key, ready to hand to the QUIC and HTTPS listeners. */
export interface TlsCertificate {
  /** PEM chain, leaf first. */
  certPem: string;
  /** PEM private key. */
  keyPem: string;
  /** DER of the leaf certificate. */
  leafDer: Uint8Array<ArrayBuffer>;
  /** Lowercase hex SHA-256 of the leaf DER: what `serverCertificateHashes` pins. */
  fingerprint: string;
  /** DNS names and IP addresses the leaf is valid for. */
  names: string[];
  notAfter: Date;
  /** Self-signed by this process (and renewed by it). */
  generated: boolean;
}

/** A certificate or key that cannot be used; the message names the file. */
export class CertificateError extends Error {
  override name = "CertificateError";
}

/** Chromium accepts `serverCertificateHashes` only for certificates valid at most 14 days. */
export const GENERATED_VALIDITY_MS = 14 * 24 * 3600 * 1000;
/** Backdate generated certificates a little for peers with a slow clock. */
const BACKDATE_MS = 60 * 1000;

const RSA_ENCRYPTION_OID = "1.2.840.113549.1.1.1";
/** DER NULL: the parameters field of rsaEncryption. */
const DER_NULL = new Uint8Array([0x05, 0x00]).buffer;

/** A hex SHA-256 fingerprint as bytes, the form `serverCertificateHashes` takes. */
export function fingerprintBytes(hex: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(hex.trim().match(/../g) ?? [], (h) => parseInt(h, 16));
}

/** Lowercase hex SHA-256 of `der`. */
export async function sha256Hex(der: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", der));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

function subjectNames(cert: x509.X509Certificate): string[] {
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  return san ? san.names.items.map((n) => n.value) : [];
}

/** Wraps SEC1 (`EC PRIVATE KEY`) and PKCS#1 (`RSA PRIVATE KEY`) keys as PKCS#8 for WebCrypto. */
function toPkcs8(label: string, der: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  if (label === "PRIVATE KEY") return der;
  if (label === "EC PRIVATE KEY") {
    const sec1 = AsnConvert.parse(der, ECPrivateKey);
    const curve = sec1.parameters?.namedCurve;
    if (!curve) throw new Error("the EC key does not name its curve");
    const info = new PrivateKeyInfo({
      privateKeyAlgorithm: new AlgorithmIdentifier({
        algorithm: id_ecPublicKey,
        parameters: AsnConvert.serialize(new ECParameters({ namedCurve: curve })),
      }),
      privateKey: new OctetString(der),
    });
    return new Uint8Array(AsnConvert.serialize(info));
  }
  if (label === "RSA PRIVATE KEY") {
    const info = new PrivateKeyInfo({
      privateKeyAlgorithm: new AlgorithmIdentifier({
        algorithm: RSA_ENCRYPTION_OID,
        parameters: DER_NULL,
      }),
      privateKey: new OctetString(der),
    });
    return new Uint8Array(AsnConvert.serialize(info));
  }
  if (label === "ENCRYPTED PRIVATE KEY") throw new Error("encrypted keys are not supported");
  throw new Error(`a ${label} block is not a private key`);
}

/** The public half of a key as comparable JWK fields. */
function publicFields(jwk: JsonWebKey): string {
  return JSON.stringify([jwk.kty, jwk.crv, jwk.x, jwk.y, jwk.n, jwk.e]);
}

/**
 * Checks that `keyPem` is the private key of the leaf in `certPem`, by importing the key with the
 * leaf's algorithm and comparing public components.
 */
async function keyMatchesCertificate(
  leaf: x509.X509Certificate,
  keyLabel: string,
  keyDer: Uint8Array<ArrayBuffer>,
): Promise<boolean> {
  const publicKey = await leaf.publicKey.export();
  const algorithm = publicKey.algorithm as KeyAlgorithm & { namedCurve?: string; hash?: unknown };
  const usages: KeyUsage[] = algorithm.name === "ECDH" ? ["deriveBits"] : ["sign"];
  let privateKey: CryptoKey;
  try {
    privateKey = await crypto.subtle.importKey(
      "pkcs8",
      toPkcs8(keyLabel, keyDer),
      algorithm as Algorithm,
      true,
      usages,
    );
  } catch (e) {
    // A key of another type or curve than the certificate cannot be imported with its algorithm.
    if (e instanceof DOMException) return false;
    throw e;
  }
  const [mine, theirs] = await Promise.all([
    crypto.subtle.exportKey("jwk", privateKey),
    crypto.subtle.exportKey("jwk", publicKey),
  ]);
  return publicFields(mine) === publicFields(theirs);
}

function readText(path: string, what: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (e) {
    const reason = e instanceof Deno.errors.NotFound
      ? "no such file"
      : e instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : e instanceof Error
      ? e.message
      : String(e);
    throw new CertificateError(`cannot read ${what} ${path}: ${reason}`);
  }
}

/** The CERTIFICATE blocks of a PEM file's text (`path` names it in errors). */
function certificateBlocks(pem: string, path: string): ReturnType<typeof decodePem> {
  try {
    return decodePem(pem).filter((b) => b.label === "CERTIFICATE");
  } catch (e) {
    throw new CertificateError(`${path}: ${(e as Error).message}`);
  }
}

/** Loads and checks one certificate chain and key pair from PEM files. */
export async function loadCertificate(certPath: string, keyPath: string): Promise<TlsCertificate> {
  const certPem = readText(certPath, "certificate");
  const keyPem = readText(keyPath, "key");
  const blocks = certificateBlocks(certPem, certPath);
  const leafBlock = blocks[0];
  if (!leafBlock) throw new CertificateError(`${certPath}: no CERTIFICATE block in the file`);
  let leaf: x509.X509Certificate;
  try {
    leaf = new x509.X509Certificate(leafBlock.der);
  } catch (e) {
    throw new CertificateError(`${certPath}: not a valid certificate: ${(e as Error).message}`);
  }
  let keyBlocks;
  try {
    keyBlocks = decodePem(keyPem).filter((b) => b.label.endsWith("PRIVATE KEY"));
  } catch (e) {
    throw new CertificateError(`${keyPath}: ${(e as Error).message}`);
  }
  const keyBlock = keyBlocks[0];
  if (!keyBlock) throw new CertificateError(`${keyPath}: no PRIVATE KEY block in the file`);
  let matches: boolean;
  try {
    matches = await keyMatchesCertificate(leaf, keyBlock.label, keyBlock.der);
  } catch (e) {
    throw new CertificateError(`${keyPath}: not a usable private key: ${(e as Error).message}`);
  }
  if (!matches) {
    throw new CertificateError(`${keyPath}: this key does not match the certificate ${certPath}`);
  }
  return {
    certPem,
    keyPem,
    leafDer: leafBlock.der,
    fingerprint: await sha256Hex(leafBlock.der),
    names: subjectNames(leaf),
    notAfter: leaf.notAfter,
    generated: false,
  };
}

/** Loads an extra trust anchor (PEM), checking it holds at least one valid certificate. */
export function loadTrustRoot(path: string): string {
  const pem = readText(path, "trust root");
  const blocks = certificateBlocks(pem, path);
  if (blocks.length === 0) throw new CertificateError(`${path}: no CERTIFICATE block in the file`);
  for (const block of blocks) {
    try {
      new x509.X509Certificate(block.der);
    } catch (e) {
      throw new CertificateError(`${path}: not a valid certificate: ${(e as Error).message}`);
    }
  }
  return pem;
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** Generates a self-signed ECDSA P-256 certificate for `names` (DNS names or IP addresses). */
export async function generateCertificate(
  names: string[],
  now: Date = new Date(),
): Promise<TlsCertificate> {
  const algorithm = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = await crypto.subtle.generateKey(algorithm, true, ["sign", "verify"]);
  const notBefore = new Date(now.getTime() - BACKDATE_MS);
  // The whole validity period, backdating included, must stay within 14 days.
  const notAfter = new Date(notBefore.getTime() + GENERATED_VALIDITY_MS - BACKDATE_MS);
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0] = (serial[0] ?? 0) & 0x7f; // a positive INTEGER
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Array.from(serial, (b) => b.toString(16).padStart(2, "0")).join(""),
    name: `CN=${names[0] ?? "moq-relay"}`,
    notBefore,
    notAfter,
    signingAlgorithm: algorithm,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(
        names.map((n) => ({
          type: IPV4.test(n) || n.includes(":") ? "ip" as const : "dns" as const,
          value: n,
        })),
      ),
    ],
  });
  const leafDer = new Uint8Array(cert.rawData);
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  return {
    certPem: encodePem("CERTIFICATE", leafDer),
    keyPem: encodePem("PRIVATE KEY", pkcs8),
    leafDer,
    fingerprint: await sha256Hex(leafDer),
    names,
    notAfter,
    generated: true,
  };
}
