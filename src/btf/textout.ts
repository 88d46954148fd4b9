// A text writer for the BTF dumps: bytes appended to one reused buffer (numbers formatted in place,
// names copied straight from the BTF string section, fixed text pre-encoded), handed to a sink in
// large chunks that always end on a line boundary, so each chunk is whole UTF-8.

/** Receives each chunk; the bytes are only valid during the call (the buffer is reused). */
export type ByteSink = (bytes: Uint8Array) => void;

const CHUNK = 1 << 20;

/** Fixed text as its UTF-8 bytes, for TextOut.lit (the dumps' fixed text is ASCII, where the two agree). */
export function lit(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'utf8'));
}

export class TextOut {
  buf: Uint8Array = new Uint8Array(CHUNK + 4096);
  /** The same memory as a Buffer, for its string encoder. */
  private view = Buffer.from(this.buf.buffer, 0, this.buf.length);
  pos = 0;
  /** Flush at this many bytes: small for the first chunk, so the flush path runs (and is compiled) early. */
  private limit = 1 << 14;

  constructor(private readonly sink: ByteSink) {}

  /** Make room for n more bytes (grows the buffer: a chunk is only cut at endLine). */
  room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const b = new Uint8Array(Math.max(2 * this.buf.length, this.pos + n + 4096));
    b.set(this.buf.subarray(0, this.pos));
    this.buf = b;
    this.view = Buffer.from(b.buffer, 0, b.length);
  }

  /** A line (or a whole item) is complete: pass the buffer on once it holds a chunk's worth. */
  endLine(): void {
    if (this.pos >= this.limit) this.flush();
  }

  flush(): void {
    if (this.pos === 0) return;
    this.sink(this.buf.subarray(0, this.pos));
    this.pos = 0;
    this.limit = CHUNK;
  }

  lit(b: Uint8Array): void {
    const n = b.length;
    if (this.pos + n > this.buf.length) this.room(n);
    const o = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) o[p++] = b[i]!;
    this.pos = p;
  }

  /** Bytes as they are (a native copy). */
  bytes(b: Uint8Array): void {
    const n = b.length;
    if (this.pos + n > this.buf.length) this.room(n);
    this.buf.set(b, this.pos);
    this.pos += n;
  }

  byte(c: number): void {
    if (this.pos + 1 > this.buf.length) this.room(1);
    this.buf[this.pos++] = c;
  }

  /** Any string, as UTF-8. */
  str(s: string): void {
    if (this.pos + 3 * s.length > this.buf.length) this.room(3 * s.length);
    this.pos += this.view.write(s, this.pos, 'utf8');
  }

  /** A string of one-byte characters (as latin1, byte for byte: for ASCII text, its UTF-8). */
  latin1(s: string): void {
    if (this.pos + s.length > this.buf.length) this.room(s.length);
    this.pos += this.view.write(s, this.pos, 'latin1');
  }

  /** A non-negative integer below 2^32 (or any safe integer, slower), in decimal. */
  uint(n: number): void {
    if (this.pos + 21 > this.buf.length) this.room(21);
    const o = this.buf;
    if (n < 10) {
      o[this.pos++] = 48 + n;
      return;
    }
    let d = 1;
    for (let t = n; t >= 10; t = Math.floor(t / 10)) d++;
    let e = this.pos + d;
    this.pos = e;
    while (n >= 10) {
      const q = Math.floor(n / 10);
      o[--e] = 48 + (n - 10 * q);
      n = q;
    }
    o[--e] = 48 + n;
  }

  /** A safe integer, signed. */
  int(n: number): void {
    if (n < 0) {
      this.byte(45);
      this.uint(-n);
    } else this.uint(n);
  }

  /** The NUL-terminated string at `off` in `s`, as its bytes. Returns the number of bytes written. */
  cstr(s: Uint8Array, off: number): number {
    let p = this.pos;
    let o = this.buf;
    const start = p;
    for (let c = s[off]!; c !== 0 && c !== undefined; c = s[++off]!) {
      if (p === o.length) {
        this.pos = p;
        this.room(4096);
        o = this.buf;
      }
      o[p++] = c;
    }
    this.pos = p;
    return p - start;
  }
}
