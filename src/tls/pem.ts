/**
 * PEM blocks: split a PEM file into its labelled DER blocks, and back.
 *
 * @module
 */

/** One `-----BEGIN <label>-----` block, decoded. */
export interface PemBlock {
  label: string;
  der: Uint8Array<ArrayBuffer>;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** Every PEM block in `text`, in order; text outside blocks is ignored, as OpenSSL does. */
export function decodePem(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const match of text.matchAll(BLOCK)) {
    const label = match[1] ?? "";
    const body = (match[2] ?? "").replace(/\s+/g, "");
    let binary: string;
    try {
      binary = atob(body);
    } catch {
      throw new Error(`the ${label} block is not valid base64`);
    }
    const der = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) der[i] = binary.charCodeAt(i);
    blocks.push({ label, der });
  }
  return blocks;
}

/** One PEM block with 64-column base64 lines. */
export function encodePem(label: string, der: Uint8Array): string {
  let binary = "";
  for (const byte of der) binary += String.fromCharCode(byte);
  const body = btoa(binary).match(/.{1,64}/g)?.join("\n") ?? "";
  return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
}
