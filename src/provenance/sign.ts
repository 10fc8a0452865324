/**
 * Signing a result with Ed25519 (RFC 8032, Node's crypto; no dependency). The signature covers the canonical
 * JSON (see canonical.ts) of the whole result with its top-level `signature` field left out, so any edit of any
 * other field after signing, re-indenting aside, breaks it. The public key travels in the signature as SPKI PEM,
 * which proves integrity; `robust verify --pub key.pub` also proves who signed.
 *
 * Keys are PEM files as OpenSSL writes them:
 *   openssl genpkey -algorithm ed25519 -out key.pem && openssl pkey -in key.pem -pubout -out key.pub
 */
import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { InputError } from '../errors.js';
import { canonicalJson } from './canonical.js';

/** The `signature` field of a signed result. */
export interface ResultSignature {
  algorithm: 'Ed25519';
  /** How the signed bytes were made from the result (see canonical.ts). */
  canonicalization: 'robust-canonical-json/v1';
  /** The signer's public key, SPKI PEM. */
  publicKey: string;
  /** SHA-256 (hex) of the public key's DER bytes, a short name for the key. */
  keyId: string;
  /** The signature over the canonical bytes, base64. */
  value: string;
}

/** The field of a result that holds its signature, and that the signature leaves out. */
export const SIGNATURE_FIELD = 'signature';

function keyKind(key: KeyObject): string {
  return key.asymmetricKeyType ?? key.type;
}

async function readPem(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    throw new InputError(`cannot read the ${what} ${path}; make one with: openssl genpkey -algorithm ed25519 -out key.pem`);
  }
}

/**
 * An Ed25519 private key from a PEM file (PKCS#8, as `openssl genpkey -algorithm ed25519` writes).
 * @throws InputError when the file is missing, not a private key, or not Ed25519.
 */
export async function readPrivateKey(path: string): Promise<KeyObject> {
  const text = await readPem(path, 'signing key');
  let key: KeyObject;
  try {
    key = createPrivateKey(text);
  } catch {
    throw new InputError(`${path} is not a PEM private key; make one with: openssl genpkey -algorithm ed25519 -out key.pem`);
  }
  if (keyKind(key) !== 'ed25519') throw new InputError(`${path} is a ${keyKind(key)} key; robust signs with Ed25519 (openssl genpkey -algorithm ed25519)`);
  return key;
}

/**
 * An Ed25519 public key from a PEM file (SPKI, as `openssl pkey -pubout` writes; a private key PEM also works).
 * @throws InputError when the file is missing or holds no Ed25519 key.
 */
export async function readPublicKey(path: string): Promise<KeyObject> {
  const text = await readPem(path, 'public key');
  let key: KeyObject;
  try {
    key = createPublicKey(text);
  } catch {
    throw new InputError(`${path} is not a PEM public key; write one with: openssl pkey -in key.pem -pubout -out key.pub`);
  }
  if (keyKind(key) !== 'ed25519') throw new InputError(`${path} is a ${keyKind(key)} key; robust results are signed with Ed25519`);
  return key;
}

/** SHA-256 of a public key's SPKI DER bytes, hex. */
export function keyId(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('hex');
}

/** The bytes a signature covers: the canonical JSON of `doc` without its top-level signature field. */
export function signedBytes(doc: unknown): Buffer {
  const record = typeof doc === 'object' && doc !== null && !Array.isArray(doc) ? (doc as Record<string, unknown>) : {};
  const { [SIGNATURE_FIELD]: _, ...rest } = record;
  return Buffer.from(canonicalJson(rest), 'utf8');
}

/**
 * `result` with its `signature` set: Ed25519 over {@link signedBytes}. Sign the final result, after everything
 * else is filled in: any later change breaks the signature.
 * @example const signed = signResult(result, await readPrivateKey('key.pem'));
 */
export function signResult<T extends object>(result: T, privateKey: KeyObject): T & { signature: ResultSignature } {
  const publicKey = createPublicKey(privateKey);
  const signature: ResultSignature = {
    algorithm: 'Ed25519',
    canonicalization: 'robust-canonical-json/v1',
    publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    keyId: keyId(publicKey),
    value: sign(null, signedBytes(result), privateKey).toString('base64'),
  };
  return { ...result, signature };
}

/** What {@link checkSignature} found. */
export interface SignatureCheck {
  ok: boolean;
  message: string;
}

/**
 * Check the signature of a parsed result. With `trusted`, the result must be signed by that key; without, the
 * embedded key is used, which shows the result is unchanged since signing but not who signed it.
 */
export function checkSignature(doc: unknown, trusted?: KeyObject): SignatureCheck {
  const sig = (typeof doc === 'object' && doc !== null ? (doc as Record<string, unknown>)[SIGNATURE_FIELD] : undefined) as Partial<ResultSignature> | null | undefined;
  if (sig === undefined || sig === null) return { ok: false, message: 'the result is not signed (run robust test --sign key.pem)' };
  const fields = ['algorithm', 'canonicalization', 'keyId', 'publicKey', 'value'];
  // The signature is the one field the signature cannot cover, so it may hold nothing else.
  if (typeof sig !== 'object' || Object.keys(sig).sort().join() !== fields.join()) return { ok: false, message: `the signature field must hold exactly ${fields.join(', ')}` };
  if (sig.algorithm !== 'Ed25519' || sig.canonicalization !== 'robust-canonical-json/v1' || typeof sig.value !== 'string' || typeof sig.publicKey !== 'string') {
    return { ok: false, message: 'the signature field is malformed (expected Ed25519 over robust-canonical-json/v1)' };
  }
  let embedded: KeyObject;
  try {
    embedded = createPublicKey(sig.publicKey);
  } catch {
    return { ok: false, message: 'the signature\'s public key is not a PEM public key' };
  }
  // Decoders skip trailing junk (base64, PEM), so only the exact encodings robust writes are accepted.
  const signatureBytes = Buffer.from(sig.value, 'base64');
  if (signatureBytes.length !== 64 || signatureBytes.toString('base64') !== sig.value) return { ok: false, message: 'the signature value is not 64 bytes of base64' };
  if (embedded.export({ type: 'spki', format: 'pem' }).toString() !== sig.publicKey) return { ok: false, message: 'the signature\'s public key is not in the SPKI PEM form robust writes' };
  if (sig.keyId !== keyId(embedded)) return { ok: false, message: 'the signature\'s keyId does not name its public key' };
  const key = trusted ?? embedded;
  if (trusted && keyId(trusted) !== keyId(embedded)) {
    return { ok: false, message: `signed by key ${keyId(embedded).slice(0, 16)}…, not by the trusted key ${keyId(trusted).slice(0, 16)}…` };
  }
  let valid = false;
  try {
    valid = keyKind(key) === 'ed25519' && verify(null, signedBytes(doc), key, signatureBytes);
  } catch {
    valid = false;
  }
  if (!valid) return { ok: false, message: 'the signature does not match the content: the result was changed after signing' };
  return { ok: true, message: `valid Ed25519 signature by key ${keyId(key).slice(0, 16)}…${trusted ? ' (the trusted key)' : ' (embedded key; pass --pub to check who signed)'}` };
}
