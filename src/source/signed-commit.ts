// A raw commit object split the way git splits it to check a signature: the signature is
// the `gpgsig` header (continuation lines lose their leading space), and the signed payload
// is the object without any `gpgsig*` header (git drops `gpgsig-sha256` too, which a
// SHA-256 or dual-hash commit carries). Working on bytes, not decoded text, keeps a commit
// message in another encoding byte-exact, which the signature covers.
//
// isomorphic-git's readCommit cannot be used for this: its payload only strips PGP armour,
// so the payload of an SSH-signed commit still holds the signature.

export interface SplitCommit {
  /** The bytes that were signed. */
  payload: Uint8Array;
  /** The armoured signature text, or undefined when the commit carries none. */
  signature: string | undefined;
  /** The committer's timestamp (seconds since the epoch), which git checks key validity against. */
  committerTime: number | undefined;
}

const NL = 0x0a;
const startsWith = (line: Uint8Array, prefix: string): boolean =>
  line.length >= prefix.length && Buffer.from(line.subarray(0, prefix.length)).toString('latin1') === prefix;

export function splitSignedCommit(object: Uint8Array): SplitCommit {
  const payload: Uint8Array[] = [];
  const sig: Uint8Array[] = [];
  let inSignature = false;
  let otherSignature = false;
  let committerTime: number | undefined;
  let at = 0;
  while (at < object.length) {
    const nl = object.indexOf(NL, at);
    const next = nl === -1 ? object.length : nl + 1;
    const line = object.subarray(at, next);
    if (line[0] === NL) {
      // The blank line ends the headers: the message is payload, whatever it contains.
      payload.push(object.subarray(at));
      break;
    }
    if (inSignature && line[0] === 0x20) {
      sig.push(line.subarray(1));
    } else if (startsWith(line, 'gpgsig ')) {
      sig.push(line.subarray('gpgsig '.length));
      inSignature = true;
      otherSignature = false;
    } else {
      inSignature = false;
      if (startsWith(line, 'gpgsig')) otherSignature = true;
      else if (otherSignature && line[0] !== 0x20) otherSignature = false;
      if (!otherSignature) payload.push(line);
      if (startsWith(line, 'committer ')) {
        const m = / (\d+) [+-]\d{4}\n?$/.exec(Buffer.from(line).toString('latin1'));
        if (m?.[1]) committerTime = Number(m[1]);
      }
    }
    at = next;
  }
  return {
    payload: Buffer.concat(payload),
    signature: sig.length === 0 ? undefined : Buffer.concat(sig).toString('latin1'),
    committerTime,
  };
}
