/**
 * The SPICE link handshake, as pure functions over bytes (the socket side lives in channel.ts):
 * the client's SpiceLinkHeader + SpiceLinkMess + caps, the parse of the server's SpiceLinkReply,
 * and the RSA-OAEP ticket. Contract: nothing here touches a socket or a clock.
 */
import { constants, createPublicKey, publicEncrypt } from 'node:crypto';
import { SpiceError } from './errors.js';
import {
  capsWords,
  CommonCap,
  LINK_HEADER_SIZE,
  LINK_MESS_SIZE,
  LINK_PUBKEY_SIZE,
  LINK_REPLY_SIZE,
  LinkError,
  MAX_PASSWORD_BYTES,
  SPICE_MAGIC,
  SPICE_VERSION_MAJOR,
  SPICE_VERSION_MINOR,
  TICKET_SIZE,
} from './protocol.js';

/** The fields of our SpiceLinkMess for one channel (see encodeLinkRequest). */
export interface LinkRequest {
  channelType: number;
  channelId: number;
  /** 0 for MAIN; MAIN_INIT.session_id for every other channel. */
  connectionId: number;
  /** Channel caps as bit numbers (the common caps are fixed: AUTH_SELECTION, AUTH_SPICE, MINI_HEADER). */
  channelCaps: readonly number[];
  /** Offer the mini header (default true; false only to exercise the full header in tests). */
  miniHeader?: boolean;
}

/** The common caps glasspane offers: auth selection with the SPICE ticket, and the mini header. */
export function commonCapsFor(miniHeader: boolean): number[] {
  const bits: number[] = [CommonCap.AUTH_SELECTION, CommonCap.AUTH_SPICE];
  if (miniHeader) bits.push(CommonCap.MINI_HEADER);
  return capsWords(bits);
}

/**
 * Encodes header + SpiceLinkMess + caps, ready to write (a new buffer). Field values are the
 * caller's, written as given.
 */
export function encodeLinkRequest(req: LinkRequest): Buffer {
  const common = commonCapsFor(req.miniHeader ?? true);
  const channel = capsWords(req.channelCaps);
  const bodySize = LINK_MESS_SIZE + 4 * (common.length + channel.length);
  const buf = Buffer.alloc(LINK_HEADER_SIZE + bodySize);
  buf.writeUInt32LE(SPICE_MAGIC, 0);
  buf.writeUInt32LE(SPICE_VERSION_MAJOR, 4);
  buf.writeUInt32LE(SPICE_VERSION_MINOR, 8);
  buf.writeUInt32LE(bodySize, 12);
  buf.writeUInt32LE(req.connectionId >>> 0, 16);
  buf.writeUInt8(req.channelType, 20);
  buf.writeUInt8(req.channelId, 21);
  buf.writeUInt32LE(common.length, 22);
  buf.writeUInt32LE(channel.length, 26);
  buf.writeUInt32LE(LINK_MESS_SIZE, 30);
  let off = LINK_HEADER_SIZE + LINK_MESS_SIZE;
  for (const w of [...common, ...channel]) {
    buf.writeUInt32LE(w, off);
    off += 4;
  }
  return buf;
}

/**
 * The server's SpiceLinkReply as decodeLinkReply() bounded it: at most 64 caps words each, inside
 * the reply. `publicKey` is a copy (not checked as a key until encryptTicket).
 */
export interface LinkReply {
  /** LinkError; when not OK the other fields are empty. */
  error: number;
  /** X.509 SubjectPublicKeyInfo DER of the server's per-connection RSA key. */
  publicKey: Buffer;
  commonCaps: number[];
  channelCaps: number[];
}

/**
 * Parses the body of the server's link reply (after its 16-byte header; the reader bounds the
 * body to 4..4096 bytes). Throws SpiceError ERR_SPICE_PROTOCOL when it is too short or the caps
 * counts or offset point outside it. A non-OK error code is returned, not thrown.
 */
export function decodeLinkReply(body: Buffer): LinkReply {
  if (body.length < 4) {
    throw new SpiceError('ERR_SPICE_PROTOCOL', `SPICE link reply too short: ${body.length} bytes, expected at least 4`, 'check that the address is a SPICE server', { permanent: true });
  }
  const error = body.readUInt32LE(0);
  if (error !== LinkError.OK) return { error, publicKey: Buffer.alloc(0), commonCaps: [], channelCaps: [] };
  if (body.length < LINK_REPLY_SIZE) {
    throw new SpiceError('ERR_SPICE_PROTOCOL', `SPICE link reply too short: ${body.length} bytes, expected at least ${LINK_REPLY_SIZE}`, 'check that the address is a SPICE server', { permanent: true });
  }
  const publicKey = Buffer.from(body.subarray(4, 4 + LINK_PUBKEY_SIZE));
  const ncommon = body.readUInt32LE(166);
  const nchannel = body.readUInt32LE(170);
  const capsOffset = body.readUInt32LE(174);
  if (ncommon > 64 || nchannel > 64 || capsOffset + 4 * (ncommon + nchannel) > body.length) {
    throw new SpiceError(
      'ERR_SPICE_PROTOCOL',
      `SPICE link reply caps out of bounds: num_common_caps ${ncommon} + num_channel_caps ${nchannel} words at caps_offset ${capsOffset} in ${body.length} bytes`,
      'check that the address is a SPICE server',
      { permanent: true },
    );
  }
  const words = (start: number, n: number) => Array.from({ length: n }, (_, i) => body.readUInt32LE(start + 4 * i));
  return {
    error,
    publicKey,
    commonCaps: words(capsOffset, ncommon),
    channelCaps: words(capsOffset + 4 * ncommon, nchannel),
  };
}

/**
 * Encrypts `password + "\0"` with RSA-OAEP (SHA-1) for the server's key. An empty password still
 * needs a real ticket: spice-server decrypts it even with disable-ticketing=on. Throws SpiceError
 * ERR_SPICE_PASSWORD for a password over 60 UTF-8 bytes, ERR_SPICE_PROTOCOL (permanent) when the
 * key is not X.509 DER, not RSA or not 1024 bits.
 */
export function encryptTicket(publicKeyDer: Buffer, password: string): Buffer {
  const pw = Buffer.from(password, 'utf8');
  if (pw.length > MAX_PASSWORD_BYTES) {
    throw new SpiceError(
      'ERR_SPICE_PASSWORD',
      `SPICE password is ${pw.length} bytes; the server accepts at most ${MAX_PASSWORD_BYTES}`,
      'use a shorter password in the VM config and the password file',
    );
  }
  // Every key problem is permanent: the server makes the same kind of key on every connection.
  const bad = (what: string, cause?: unknown) =>
    new SpiceError('ERR_SPICE_PROTOCOL', `SPICE server's public key (link reply field pub_key) ${what}`, 'check that the address is a SPICE server (spice-server sends a fresh RSA-1024 key per connection)', { cause, permanent: true });
  let key;
  try {
    key = createPublicKey({ key: publicKeyDer, format: 'der', type: 'spki' });
  } catch (cause) {
    throw bad('is not valid X.509 SubjectPublicKeyInfo DER', cause);
  }
  // Checked before encrypting: a short key cannot even hold the password (publicEncrypt would
  // throw a plain Error), and another key type has no OAEP.
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (key.asymmetricKeyType !== 'rsa') throw bad(`is a ${key.asymmetricKeyType ?? 'unknown'} key, not RSA`);
  if (bits !== TICKET_SIZE * 8) throw bad(`is RSA-${bits ?? '?'}, not RSA-${TICKET_SIZE * 8}`);
  let ticket: Buffer;
  try {
    ticket = publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, Buffer.concat([pw, Buffer.from([0])]));
  } catch (cause) {
    throw bad(`cannot encrypt the ticket: ${(cause as Error).message}`, cause);
  }
  if (ticket.length !== TICKET_SIZE) throw bad(`gives a ${ticket.length}-byte ticket, expected ${TICKET_SIZE}`);
  return ticket;
}

/** The auth mechanism selection (`u32 1` = SPICE ticket), sent before the ticket. */
export function encodeAuthSelection(): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(CommonCap.AUTH_SPICE, 0);
  return b;
}
