/**
 * A minimal DER writer: enough to build an X.509 certificate's fields
 * (sequences, object identifiers, integers, strings, times) and no more.
 * Node's crypto signs and parses certificates but cannot create one; the
 * operator mints only its own serving certificate, so a hundred audited
 * lines beat a general ASN.1 library.
 */

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** A TLV with `tag` around the concatenated `parts`. */
export const der = (tag: number, ...parts: Buffer[]): Buffer => {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
};

export const seq = (...parts: Buffer[]): Buffer => der(0x30, ...parts);
export const set = (...parts: Buffer[]): Buffer => der(0x31, ...parts);

export const oid = (dotted: string): Buffer => {
  const [a = 0, b = 0, ...rest] = dotted.split('.').map(Number);
  const bytes = [40 * a + b];
  for (const n of rest) {
    const groups = [n & 0x7f];
    for (let v = n >> 7; v > 0; v >>= 7) groups.unshift((v & 0x7f) | 0x80);
    bytes.push(...groups);
  }
  return der(0x06, Buffer.from(bytes));
};

/** A non-negative INTEGER from its big-endian bytes (a leading zero added where the sign bit is set). */
export const unsigned = (bytes: Buffer): Buffer => {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const trimmed = bytes.subarray(start);
  return der(0x02, (trimmed[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
};

export const int = (n: number): Buffer => {
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return unsigned(Buffer.from(bytes.length === 0 ? [0] : bytes));
};

export const utf8 = (s: string): Buffer => der(0x0c, Buffer.from(s, 'utf8'));
export const bool = (v: boolean): Buffer => der(0x01, Buffer.from([v ? 0xff : 0]));
export const octets = (b: Buffer): Buffer => der(0x04, b);
/** A BIT STRING with no unused bits (keys, signatures). */
export const bits = (b: Buffer): Buffer => der(0x03, Buffer.from([0]), b);

/** UTCTime until 2049, GeneralizedTime after (RFC 5280 §4.1.2.5), whole seconds. */
export const time = (d: Date): Buffer => {
  const iso = d.toISOString().replace(/[-:T]|\.\d+/g, '');
  return d.getUTCFullYear() < 2050 ? der(0x17, Buffer.from(iso.slice(2))) : der(0x18, Buffer.from(iso));
};

/** A Name of one common name. */
export const commonName = (cn: string): Buffer => seq(set(seq(oid('2.5.4.3'), utf8(cn))));

/** An Extension: `id`, critical or not, with its DER value. */
export const extension = (id: string, critical: boolean, value: Buffer): Buffer =>
  seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));

/** One TLV element: its tag and where its contents and the whole element lie in the buffer. */
interface Element {
  readonly tag: number;
  readonly start: number;
  readonly contentStart: number;
  readonly end: number;
}

/** Reads the element at `offset` (definite lengths only, as DER requires). */
function element(buf: Buffer, offset: number): Element {
  const tag = buf[offset];
  let length = buf[offset + 1];
  if (tag === undefined || length === undefined) throw new Error('DER: truncated element');
  let contentStart = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4) throw new Error('DER: unsupported length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (buf[contentStart + i] ?? 0);
    contentStart += count;
  }
  const end = contentStart + length;
  if (end > buf.length) throw new Error('DER: element runs past the buffer');
  return { tag, start: offset, contentStart, end };
}

/** The elements directly inside a constructed element's contents. */
function children(buf: Buffer, parent: Element): Element[] {
  const out: Element[] = [];
  for (let at = parent.contentStart; at < parent.end;) {
    const e = element(buf, at);
    out.push(e);
    at = e.end;
  }
  return out;
}

/** The subject Name of a DER certificate, as its exact bytes (what a child's issuer field must repeat). */
export function certificateSubject(cert: Buffer): Buffer {
  const [tbs] = children(cert, element(cert, 0));
  if (tbs === undefined) throw new Error('DER: no tbsCertificate');
  const fields = children(cert, tbs);
  // version [0] is optional; then serial, signature algorithm, issuer, validity, subject.
  const skip = fields[0]?.tag === 0xa0 ? 1 : 0;
  const subject = fields[skip + 4];
  if (subject?.tag !== 0x30) throw new Error('DER: no subject');
  return cert.subarray(subject.start, subject.end);
}
