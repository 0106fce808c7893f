// Minimal zip and tar writers for tests that need hostile archives (names,
// types and sizes no well-behaved tool would write). Node has zlib but no
// archive writer; these follow PKWARE's APPNOTE (zip, no zip64) and POSIX
// ustar, and nothing more.
import { deflateRawSync, gzipSync, crc32 as zcrc32 } from 'node:zlib';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(buf) {
  if (zcrc32) return zcrc32(buf) >>> 0;
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const toBuf = (x) => (Buffer.isBuffer(x) ? x : Buffer.from(x ?? ''));

// entries: [{ name (string or Buffer), data, mode (Unix mode incl. type,
// default 0o100644), deflate (bool), claim (an uncompressed size to declare
// instead of the true one: a lying header) }]. Directory names end in '/'.
export function zip(entries) {
  const locals = [];
  const centrals = [];
  let offset = 0;
  for (const e of entries) {
    const name = toBuf(e.name);
    const data = toBuf(e.data);
    const body = e.deflate ? deflateRawSync(data) : data;
    const crc = crc32(data);
    const mode = e.mode ?? (name.at(-1) === 0x2f ? 0o40755 : 0o100644);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt16LE(0x0800, 6); // names are UTF-8
    lh.writeUInt16LE(e.deflate ? 8 : 0, 8);
    lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(body.length, 18);
    lh.writeUInt32LE(e.claim ?? data.length, 22);
    lh.writeUInt16LE(name.length, 26);
    locals.push(lh, name, body);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE((3 << 8) | 20, 4); // made by Unix: external attributes hold the mode
    ch.writeUInt16LE(20, 6);
    ch.writeUInt16LE(0x0800, 8);
    ch.writeUInt16LE(e.deflate ? 8 : 0, 10);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(body.length, 20);
    ch.writeUInt32LE(e.claim ?? data.length, 24);
    ch.writeUInt16LE(name.length, 28);
    ch.writeUInt32LE((mode << 16) >>> 0, 38);
    ch.writeUInt32LE(offset, 42);
    centrals.push(ch, name);
    offset += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

// entries: [{ name, data, mode (permission bits, default 0o644), type
// ('0' file, '1' hard link, '2' symlink, '3' char device, '5' directory,
// '6' FIFO), link }]. gzip: compress the whole tar.
export function tar(entries, { gzip = false } = {}) {
  const blocks = [];
  for (const e of entries) {
    const name = toBuf(e.name);
    const data = toBuf(e.data);
    const type = e.type ?? '0';
    const h = Buffer.alloc(512);
    name.copy(h, 0, 0, Math.min(name.length, 100));
    const oct = (v, len) => Buffer.from(`${v.toString(8).padStart(len - 1, '0')}\0`);
    oct(e.mode ?? (type === '5' ? 0o755 : 0o644), 8).copy(h, 100);
    oct(0, 8).copy(h, 108);
    oct(0, 8).copy(h, 116);
    oct(type === '0' ? data.length : 0, 12).copy(h, 124);
    oct(0, 12).copy(h, 136);
    h.fill(0x20, 148, 156);
    h.write(type, 156);
    if (e.link) h.write(e.link, 157);
    h.write('ustar\0', 257);
    h.write('00', 263);
    if (type === '3') { oct(1, 8).copy(h, 329); oct(3, 8).copy(h, 337); }
    let sum = 0;
    for (const b of h) sum += b;
    Buffer.from(`${sum.toString(8).padStart(6, '0')}\0 `).copy(h, 148);
    blocks.push(h);
    if (type === '0' && data.length) {
      blocks.push(data, Buffer.alloc((512 - (data.length % 512)) % 512));
    }
  }
  blocks.push(Buffer.alloc(1024));
  const out = Buffer.concat(blocks);
  return gzip ? gzipSync(out) : out;
}
