// Chromium extension IDs and CRX3 files, with nothing but node:crypto.
//
// An ID is the first 16 bytes of sha256(DER SubjectPublicKeyInfo), written as 32 letters a-p
// (one per hex digit). A CRX3 file is "Cr24", version 3, the header's length, a CrxFileHeader
// protobuf, then the zip. The header carries the public key and an RSA PKCS#1 v1.5 SHA-256
// signature over "CRX3 SignedData\0" + len(signed data) + signed data + zip, where the signed
// data is a SignedData protobuf naming the 16-byte crx_id (components/crx_file/crx3.proto).
import { createHash, createPrivateKey, createPublicKey, sign } from 'node:crypto';

/** The public half of a PEM private key as DER SubjectPublicKeyInfo. */
export function spkiFromPrivatePem(pem) {
  return createPublicKey(createPrivateKey(pem)).export({ type: 'spki', format: 'der' });
}

/** The 16 raw bytes Chromium derives its ID from. */
export function crxIdBytes(spkiDer) {
  return createHash('sha256').update(spkiDer).digest().subarray(0, 16);
}

/** The extension ID of a DER SubjectPublicKeyInfo. */
export function chromiumId(spkiDer) {
  return [...crxIdBytes(spkiDer).toString('hex')].map((c) => String.fromCharCode(97 + parseInt(c, 16))).join('');
}

/** Whether `id` has the shape of a Chromium extension ID. */
export function isChromiumId(id) {
  return typeof id === 'string' && /^[a-p]{32}$/.test(id);
}

/** A protobuf varint. */
export function varint(n) {
  const out = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Buffer.from(out);
}

/** A length-delimited protobuf field (wire type 2). */
export function bytesField(fieldNumber, payload) {
  return Buffer.concat([varint(fieldNumber * 8 + 2), varint(payload.length), payload]);
}

const SIGNATURE_CONTEXT = Buffer.from('CRX3 SignedData\x00', 'binary');

/** The CRX3 file of `zip`, signed with the RSA private key `privatePem`. */
export function crx3(zip, privatePem) {
  const key = createPrivateKey(privatePem);
  if (key.asymmetricKeyType !== 'rsa') throw new Error(`the key is ${key.asymmetricKeyType}, CRX3 here needs RSA`);
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  // SignedData { bytes crx_id = 1; }
  const signedData = bytesField(1, crxIdBytes(spki));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(signedData.length);
  const signature = sign('sha256', Buffer.concat([SIGNATURE_CONTEXT, length, signedData, zip]), key);
  // CrxFileHeader { repeated AsymmetricKeyProof sha256_with_rsa = 2; bytes signed_header_data = 10000; }
  // AsymmetricKeyProof { bytes public_key = 1; bytes signature = 2; }
  const proof = Buffer.concat([bytesField(1, spki), bytesField(2, signature)]);
  const header = Buffer.concat([bytesField(2, proof), bytesField(10000, signedData)]);
  const prefix = Buffer.alloc(12);
  prefix.write('Cr24', 0, 'binary');
  prefix.writeUInt32LE(3, 4);
  prefix.writeUInt32LE(header.length, 8);
  return Buffer.concat([prefix, header, zip]);
}

/** Reads a protobuf message's length-delimited fields: [{ field, bytes }]. */
export function readFields(buf) {
  const fields = [];
  let i = 0;
  const readVarint = () => {
    let value = 0;
    let scale = 1;
    for (;;) {
      if (i >= buf.length) throw new Error('truncated varint');
      const b = buf[i++];
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 0x80;
    }
  };
  while (i < buf.length) {
    const tag = readVarint();
    if (tag % 8 !== 2) throw new Error(`unexpected wire type ${tag % 8}`);
    const len = readVarint();
    if (i + len > buf.length) throw new Error('truncated field');
    fields.push({ field: Math.floor(tag / 8), bytes: buf.subarray(i, i + len) });
    i += len;
  }
  return fields;
}

/** Splits a CRX3 file into its header fields and its zip (for tests and checks). */
export function parseCrx3(crx) {
  if (crx.subarray(0, 4).toString('binary') !== 'Cr24') throw new Error('not a CRX file (no Cr24 magic)');
  if (crx.readUInt32LE(4) !== 3) throw new Error(`CRX version ${crx.readUInt32LE(4)}, not 3`);
  const headerLength = crx.readUInt32LE(8);
  const header = crx.subarray(12, 12 + headerLength);
  return { header: readFields(header), zip: crx.subarray(12 + headerLength) };
}
