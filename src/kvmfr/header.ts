/**
 * The KVMFR header and records carried in LGMP udata: built by producers, parsed (untrusted) by
 * consumers. A parse error names what was found and what glasspane expects.
 * Layout and version rules: docs/protocol.md#kvmfr-header-and-records, #version-policy.
 */
import { GlasspaneError } from '../errors.js';
import { KVMFR, KVMFR_HEADER, OSINFO, RECORD, RecordType, VMINFO } from './layout.js';
import { readCString, writeCString } from './strings.js';

/**
 * The producer's VMINFO record, as told (nothing here is verified): the capture backend's name,
 * the guest's CPU counts (0..255 each) and model string. Strings are copies, at most their field's
 * length, with control characters removed.
 */
export interface VmInfo {
  /** 32 hex digits, or null when the producer sent all zeros. */
  uuid: string | null;
  capture: string;
  cpus: number;
  cores: number;
  sockets: number;
  model: string;
}

/**
 * The producer's OSINFO record: the guest OS family (unknown numbers read as 'other') and its
 * name string (a copy, control characters removed).
 */
export interface OsInfo {
  os: 'Linux' | 'BSD' | 'macOS' | 'Windows' | 'other';
  name: string;
}

/**
 * What parseKvmfrUdata() read: the KVMFR version (always 20: anything else throws), the
 * producer's version string (≤ 31 bytes, printable), its feature bits (FEATURE_SETCURSORPOS = 1;
 * other bits are kept but mean nothing to glasspane) and the records it sent, if any.
 */
export interface KvmfrInfo {
  version: number;
  /** The producer's version string (e.g. "B7"). */
  producerVersion: string;
  features: number;
  vmInfo?: VmInfo;
  osInfo?: OsInfo;
}

const OS_NAMES: OsInfo['os'][] = ['Linux', 'BSD', 'macOS', 'Windows', 'other'];

/**
 * What buildKvmfrUdata() writes: strings longer than their field are cut (producerVersion to
 * 31 bytes, capture to 31), CPU counts are stored as bytes (the caller keeps them in 0..255).
 */
export interface KvmfrBuildOptions {
  producerVersion: string;
  features?: number;
  vmInfo?: VmInfo;
  osInfo?: { os: number; name: string };
}

/**
 * Builds udata: the KVMFR header followed by VMINFO and OSINFO records, as B7's producer does.
 * Returns a new buffer the caller owns (LgmpProducer copies it into the region).
 */
export function buildKvmfrUdata(o: KvmfrBuildOptions): Uint8Array {
  const parts: Uint8Array[] = [];
  const head = new Uint8Array(KVMFR_HEADER.SIZE);
  const hv = new DataView(head.buffer);
  head.set(Buffer.from(KVMFR.MAGIC, 'latin1'), KVMFR_HEADER.magic);
  hv.setUint32(KVMFR_HEADER.version, KVMFR.VERSION, true);
  writeCString(head, KVMFR_HEADER.hostver, KVMFR_HEADER.HOSTVER_LEN, o.producerVersion);
  hv.setUint32(KVMFR_HEADER.features, o.features ?? 0, true);
  parts.push(head);

  const record = (type: number, data: Uint8Array) => {
    const r = new Uint8Array(RECORD.HEADER_SIZE + data.length);
    r[RECORD.type] = type;
    new DataView(r.buffer).setUint32(RECORD.size, data.length, true);
    r.set(data, RECORD.data);
    parts.push(r);
  };
  if (o.vmInfo) {
    const model = Buffer.from(`${o.vmInfo.model}\0`, 'utf8');
    const d = new Uint8Array(VMINFO.model + model.length);
    if (o.vmInfo.uuid) d.set(Buffer.from(o.vmInfo.uuid.replace(/-/g, ''), 'hex').subarray(0, 16), VMINFO.uuid);
    writeCString(d, VMINFO.capture, VMINFO.CAPTURE_LEN, o.vmInfo.capture);
    d[VMINFO.cpus] = o.vmInfo.cpus;
    d[VMINFO.cores] = o.vmInfo.cores;
    d[VMINFO.sockets] = o.vmInfo.sockets;
    d.set(model, VMINFO.model);
    record(RecordType.VMINFO, d);
  }
  if (o.osInfo) {
    const name = Buffer.from(`${o.osInfo.name}\0`, 'utf8');
    const d = new Uint8Array(OSINFO.name + name.length);
    d[OSINFO.os] = o.osInfo.os;
    d.set(name, OSINFO.name);
    record(RecordType.OSINFO, d);
  }
  return Buffer.concat(parts);
}

/**
 * Parses udata written by an untrusted producer. `udata` may be a view straight into the region
 * (the relay passes one) that the producer can rewrite meanwhile: each value is read once and
 * bounded against `udata.length`, so nothing is read outside it, and the result holds copies only.
 * Bounded: the 48-byte header, magic "KVMFR---", version 20, every record header and size inside
 * the user data; strings are cut at their field (or record) end and stripped of control
 * characters. Unknown record types and records too short to parse are skipped.
 *
 * Throws GlasspaneError ERR_KVMFR_CORRUPT (too short, a record running past the end),
 * ERR_KVMFR_MAGIC (not a KVMFR producer) or ERR_KVMFR_VERSION (not 20; the message names the
 * producer's version string).
 */
export function parseKvmfrUdata(udata: Uint8Array): KvmfrInfo {
  if (udata.length < KVMFR_HEADER.SIZE) {
    throw new GlasspaneError(
      'ERR_KVMFR_CORRUPT',
      `the producer's user data is ${udata.length} bytes, smaller than the ${KVMFR_HEADER.SIZE}-byte KVMFR header`,
      'use the Looking Glass B7 guest application',
    );
  }
  const dv = new DataView(udata.buffer, udata.byteOffset, udata.byteLength);
  const magic = Buffer.from(udata.subarray(0, 8)).toString('latin1');
  if (magic !== KVMFR.MAGIC) {
    throw new GlasspaneError(
      'ERR_KVMFR_MAGIC',
      `the LGMP producer does not carry KVMFR frames: magic "${magic.replace(/[^\x20-\x7e]/g, '.')}" found, "${KVMFR.MAGIC}" expected`,
      'use the Looking Glass B7 guest application',
    );
  }
  const version = dv.getUint32(KVMFR_HEADER.version, true);
  const producerVersion = readCString(udata, KVMFR_HEADER.hostver, KVMFR_HEADER.HOSTVER_LEN);
  if (version !== KVMFR.VERSION) {
    throw new GlasspaneError(
      'ERR_KVMFR_VERSION',
      `KVMFR version ${version} found (producer "${producerVersion}"); glasspane speaks version ${KVMFR.VERSION} (Looking Glass B7)`,
      version < KVMFR.VERSION ? 'update the guest application to Looking Glass B7' : 'install the Looking Glass B7 guest application',
    );
  }
  const info: KvmfrInfo = { version, producerVersion, features: dv.getUint32(KVMFR_HEADER.features, true) };

  let off = KVMFR_HEADER.SIZE;
  while (off < udata.length) {
    if (off + RECORD.HEADER_SIZE > udata.length) throw corrupt(`a record header at byte ${off} runs past the ${udata.length}-byte user data`);
    const type = udata[off + RECORD.type]!;
    const size = dv.getUint32(off + RECORD.size, true);
    const data = off + RECORD.data;
    if (size > udata.length - data) throw corrupt(`record type ${type} at byte ${off} claims ${size} bytes, past the end of the user data`);
    const rec = udata.subarray(data, data + size);
    if (type === RecordType.VMINFO && size >= VMINFO.model) {
      const uuidBytes = rec.subarray(VMINFO.uuid, VMINFO.uuid + VMINFO.UUID_LEN);
      info.vmInfo = {
        uuid: uuidBytes.some((b) => b !== 0) ? Buffer.from(uuidBytes).toString('hex') : null,
        capture: readCString(rec, VMINFO.capture, VMINFO.CAPTURE_LEN),
        cpus: rec[VMINFO.cpus]!,
        cores: rec[VMINFO.cores]!,
        sockets: rec[VMINFO.sockets]!,
        model: readCString(rec, VMINFO.model, size - VMINFO.model),
      };
    } else if (type === RecordType.OSINFO && size >= OSINFO.name) {
      info.osInfo = { os: OS_NAMES[rec[OSINFO.os]!] ?? 'other', name: readCString(rec, OSINFO.name, size - OSINFO.name) };
    }
    off = data + size; // unknown record types are skipped by size
  }
  return info;
}

function corrupt(what: string): GlasspaneError {
  return new GlasspaneError('ERR_KVMFR_CORRUPT', `corrupt KVMFR header: ${what}`, 'restart the guest application');
}
