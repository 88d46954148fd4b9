// bpftool-like `map dump|lookup|update|delete|getnext|create|pin` (and the key-less forms
// peek/push/enqueue; `map show|list` is show.ts's): bpftool's plain and BTF-pretty layouts and -j
// keys; keys and values as bpftool's bytes or, for maps with BTF, one JSON word.
import type { Btf } from '../btf/btf.js';
import { BtfKind } from '../btf/types.js';
import { compileCodec, type Codec } from '../maps/codec.js';
import { encodeInto } from '../maps/bytes.js';
import { BpfMap } from '../maps/map.js';
import { Cmd, ElemAttr, mapCreate, objPin } from '../syscall/bpf.js';
import { BPF_ANY, BPF_EXIST, BPF_NOEXIST, MapType, mapTypeName } from '../syscall/constants.js';
import { ENOENT, errnoMessage } from '../syscall/errno.js';
import type { Fd } from '../syscall/fd.js';
import { mapInfo, type MapInfo } from '../syscall/info.js';
import { CliExit, UsageError } from './errors.js';
import { globals, jsonText } from './format.js';
import { keyword } from './argv.js';
import { btfById, hexArray, hexBytes, keywordArgs, openMap, openProgs, out, parseSelector } from './objects.js';

export interface OpenedMap {
  fd: Fd;
  info: MapInfo;
  map: BpfMap;
  btf?: Btf;
  keyCodec?: Codec;
  valueCodec?: Codec;
}

export function openMapWithBtf(sel: { how: string; what: string }): OpenedMap {
  const fd = openMap(sel);
  const info = mapInfo(fd.value);
  let btf: Btf | undefined;
  try {
    btf = btfById(info.btfId);
  } catch {
    btf = undefined;
  }
  const map = new BpfMap(fd, { name: info.name, type: info.type, keySize: info.keySize, valueSize: info.valueSize, maxEntries: info.maxEntries, flags: info.flags }, {
    btf,
    keyTypeId: info.btfKeyTypeId,
    valueTypeId: info.btfValueTypeId,
  });
  const codec = (id: number) => {
    if (!btf || !id) return undefined;
    try {
      return compileCodec(btf, id, { bpftoolChars: true });
    } catch {
      return undefined;
    }
  };
  return { fd, info, map, btf, keyCodec: codec(info.btfKeyTypeId), valueCodec: codec(info.btfValueTypeId) };
}

function decode(c: Codec | undefined, b: Uint8Array): unknown {
  if (!c) return undefined;
  return c.decode(new DataView(b.buffer, b.byteOffset, b.byteLength), 0);
}

/** bpftool shows a DATASEC value as {"<section>": [{"var": value}, ...]}. */
function decodeValue(m: OpenedMap, b: Uint8Array): unknown {
  const v = decode(m.valueCodec, b);
  const t = m.btf && m.info.btfValueTypeId ? m.btf.typeOrUndefined(m.info.btfValueTypeId) : undefined;
  if (t?.kind === BtfKind.Datasec && v && typeof v === 'object') return { [t.name]: Object.entries(v).map(([k, x]) => ({ [k]: x })) };
  return v;
}

const stride = (m: OpenedMap) => Math.ceil(m.info.valueSize / 8) * 8;
const perCpu = <T>(m: OpenedMap, v: Uint8Array, f: (b: Uint8Array) => T) =>
  Array.from({ length: m.map.ncpu }, (_, cpu) => ({ cpu, value: f(v.subarray(cpu * stride(m), cpu * stride(m) + m.info.valueSize)) }));

/** bpftool's print_entry_json: hex bytes ("values" per CPU), plus "formatted" when the map has BTF. */
function elementJson(m: OpenedMap, k: Uint8Array, v: Uint8Array): Record<string, unknown> {
  const o: Record<string, unknown> = { key: hexArray(k) };
  if (m.map.percpu) o.values = perCpu(m, v, hexArray);
  else o.value = hexArray(v);
  if (m.valueCodec || m.keyCodec) o.formatted = pretty(m, k, v);
  return o;
}

/** bpftool's do_dump_btf: the BTF-formatted element; a key without BTF is left out. */
function pretty(m: OpenedMap, k: Uint8Array, v: Uint8Array): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (m.keyCodec) o.key = decode(m.keyCodec, k);
  if (m.map.percpu) o.values = perCpu(m, v, (b) => (m.valueCodec ? decode(m.valueCodec, b) : hexArray(b)));
  else o.value = m.valueCodec ? decodeValue(m, v) : hexArray(v);
  return o;
}

/** bpftool's print_entry_plain: one line when key and value fit, else each on its own line. */
function entryPlain(m: OpenedMap, k: Uint8Array, v: Uint8Array): string {
  const { keySize, valueSize } = m.info;
  if (m.map.percpu) {
    let s = keySize ? `key:\n${hexBytes(k)}\n` : '';
    if (valueSize) for (const { cpu, value } of perCpu(m, v, hexBytes)) s += `value (CPU ${String(cpu).padStart(2, '0')}):${valueSize > 16 ? '\n' : ' '}${value}\n`;
    return s;
  }
  const breakNames = keySize > 16 || valueSize > 16;
  const single = keySize + valueSize <= 24 && !breakNames;
  let s = '';
  if (keySize) s += `key:${breakNames ? '\n' : ' '}${hexBytes(k)}${single ? '  ' : '\n'}`;
  if (valueSize) s += `value:${breakNames ? '\n' : ' '}${hexBytes(v)}`;
  return s + '\n';
}

/** bpftool's print_entry_error_msg (plain) for a key whose lookup failed. */
function entryErrorPlain(m: OpenedMap, k: Uint8Array, msg: string): string {
  const breakNames = m.info.keySize > 16 || msg.length > 16;
  const single = m.info.keySize + msg.length <= 24 && !breakNames;
  return `key:${breakNames ? '\n' : ' '}${hexBytes(k)}${single ? '  ' : '\n'}value:${breakNames ? '\n' : ' '}${msg}\n`;
}

/** BTF-formatted element as bpftool's plain (pretty) writer prints it at the top level. */
function elementPretty(m: OpenedMap, k: Uint8Array, v: Uint8Array): string {
  return jsonText(pretty(m, k, v), true);
}

const isFdMap = (t: number) => t === MapType.PROG_ARRAY || t === MapType.ARRAY_OF_MAPS || t === MapType.HASH_OF_MAPS;

/**
 * map dump MAP, as bpftool: walk the keys, look each up, print it as it comes (JSON, BTF-pretty or
 * hex). A key whose lookup fails prints its error in place (perf event arrays: every key) and is
 * not counted; an empty slot of a prog array or map-in-map is skipped.
 */
export function mapDump(args: string[], json: boolean): void {
  const m = openMapWithBtf(parseSelector(args, 'map'));
  try {
    const btfMode = !!(m.keyCodec || m.valueCodec);
    const jsonEntries: string[] = [];
    let plain = '';
    let pretties = 0;
    let found = 0;
    if (!json && btfMode) plain += '[';
    const elem = new ElemAttr(m.fd.value);
    const key = new Uint8Array(Math.max(m.info.keySize, 1));
    const value = new Uint8Array(Math.max(m.map.valueBufSize, 1));
    let prev: Uint8Array | null = null;
    let failure: string | undefined;
    for (let n = 0; ; n++) {
      if (n > m.info.maxEntries + 1024) break; // a hash map rehashing under us: bounded like bpftool's walk is not
      const r = elem.call(Cmd.MAP_GET_NEXT_KEY, prev, key);
      if (r < 0) {
        if (-r !== ENOENT) failure = `can't get next key: ${errText(-r)}`;
        break;
      }
      const k = key.slice(0, m.info.keySize);
      const lr = elem.call(Cmd.MAP_LOOKUP_ELEM, key, value);
      if (lr < 0) {
        if (!(isFdMap(m.info.type) && -lr === ENOENT)) {
          if (json) jsonEntries.push(jsonText({ key: hexArray(k), value: { error: strerror(-lr) } }, globals.pretty, 1));
          else plain += entryErrorPlain(m, k, -lr === ENOENT ? '<no entry>' : strerror(-lr));
        }
      } else {
        found++;
        const v = value.slice(0, m.map.valueBufSize);
        if (json) jsonEntries.push(jsonText(elementJson(m, k, v), globals.pretty, 1));
        else if (btfMode) plain += (pretties++ ? ',' : '') + jsonText(pretty(m, k, v), true, 1);
        else plain += entryPlain(m, k, v);
      }
      prev = key.slice();
    }
    if (json) out(`[${jsonEntries.join(',')}${jsonEntries.length && globals.pretty ? '\n' : ''}]\n`);
    else if (btfMode) out(plain + (pretties ? '\n]\n' : ']\n'));
    else out(plain + `Found ${found} element${found === 1 ? '' : 's'}\n`);
    if (failure && (m.info.type === MapType.RINGBUF || m.info.type === MapType.USER_RINGBUF)) failure += ' (a ring buffer has no keys to dump: read it with bee-ts run or the RingBufReader API)';
    if (failure) throw new CliExit(failure);
  } finally {
    m.fd.close();
  }
}

/**
 * Key/value words: bpftool's byte syntax (`1 0 0 0`, `hex 01 00`, `0x01` tokens), or one JSON
 * word (`'{"pid":1}'`, `42`, `"name"`) for maps with BTF.
 */
export function parseBytesOrJson(words: string[], size: number, codec: Codec | undefined, what: string): Uint8Array {
  const out = new Uint8Array(size);
  // One word is JSON only for a map with BTF (a typed, range-checked number, object, array or
  // string). Without BTF the words are bytes, counted as bpftool counts them: `value 1` on an
  // 8-byte value is refused, never zero-padded.
  const jsonLike = words.length === 1 && (codec ? size !== 1 || /^[[{"]/.test(words[0]!) : /^[[{"]/.test(words[0]!));
  if (jsonLike) {
    let v: unknown;
    try {
      v = JSON.parse(words[0]!);
    } catch {
      throw new UsageError(`${what}: '${words[0]}' is neither JSON nor ${size} bytes`);
    }
    if (!codec) throw new UsageError(`${what}: the map has no BTF for it; give ${size} bytes (e.g. ${what} ${Array(size).fill(0).join(' ')})`);
    try {
      encodeInto(v, out, size, codec, what);
    } catch (e) {
      throw new UsageError(`${what}: ${(e as Error).message}`);
    }
    return out;
  }
  let hex = false;
  const bytes: number[] = [];
  for (const w of words) {
    if (w === 'hex' || (bytes.length === 0 && !hex && w.length > 0 && 'hex'.startsWith(w) && !/^[0-9a-f]+$/i.test(w))) {
      hex = true;
      continue;
    }
    const n = hex ? parseInt(w, 16) : w.startsWith('0x') ? parseInt(w.slice(2), 16) : Number(w);
    if (!Number.isInteger(n) || n < 0 || n > 255 || (hex && !/^[0-9a-f]{1,2}$/i.test(w))) throw new UsageError(`${what}: '${w}' is not a byte`);
    bytes.push(n);
  }
  // bpftool's parse_bytes() message.
  if (bytes.length !== size) throw new UsageError(`${what} expected ${size} bytes got ${bytes.length}`);
  out.set(bytes);
  return out;
}

/** Split `key ... value ... [flag]` words. */
function splitKeyValue(rest: string[]): { key?: string[]; value?: string[]; flag?: string } {
  const r: { key?: string[]; value?: string[]; flag?: string } = {};
  let cur: string[] | undefined;
  // bpftool's prefixes (`k 0 0 0 0 v 1 0 0 0`), except for words that read as data (a hex byte: 'e', 'a').
  const choices = ['key', 'value', 'any', 'exist', 'noexist'];
  const dataLike = (w: string) => /^(0x)?[0-9a-f]{1,2}$/i.test(w) || /^[[{"\d-]/.test(w);
  for (const word of rest) {
    const w = choices.includes(word) || dataLike(word) ? word : (keyword(word, choices) ?? word);
    if (w === 'key') cur = r.key = [];
    else if (w === 'value') cur = r.value = [];
    else if ((w === 'any' || w === 'exist' || w === 'noexist') && r.value) {
      r.flag = w;
      cur = undefined;
    } else if (cur) cur.push(word);
    else throw new UsageError(`unexpected '${word}'`);
  }
  return r;
}

/** bpftool's print_key_value: JSON, BTF-pretty, or its plain hex layout. */
export function keyValueText(m: OpenedMap, k: Uint8Array, v: Uint8Array, json: boolean): string {
  if (json) return jsonText(elementJson(m, k, v)) + '\n';
  if (m.keyCodec || m.valueCodec) return elementPretty(m, k, v) + '\n';
  return entryPlain(m, k, v);
}

/** map lookup MAP key DATA (map peek MAP: queues and stacks have no key). */
export function mapLookup(args: string[], json: boolean, cmd = 'lookup'): void {
  const sel = parseSelector(args, 'map');
  const { key, value } = splitKeyValue(sel.rest);
  if (value) throw new UsageError(`map ${cmd}: unnecessary value`);
  if (!key && cmd === 'lookup') throw new UsageError('map lookup MAP key DATA');
  const m = openMapWithBtf(sel);
  try {
    if (key && !m.info.keySize) throw new UsageError(`map ${cmd}: unnecessary key (a ${mapTypeName(m.info.type)} map has none)`);
    if (!key && m.info.keySize) throw new UsageError(`map ${cmd} MAP key DATA: did not find key`);
    const k = key ? parseBytesOrJson(key, m.info.keySize, m.keyCodec, 'key') : new Uint8Array(0);
    const v = new Uint8Array(Math.max(m.map.valueBufSize, 1));
    const r = new ElemAttr(m.fd.value).call(Cmd.MAP_LOOKUP_ELEM, key ? k : null, v);
    if (r < 0) {
      // bpftool: a miss prints null (JSON) or the key and "Not found", and fails.
      if (-r === ENOENT) throw new CliExit('', json ? jsonText(null) + '\n' : `key:\n${hexBytes(k)}\n\nNot found\n`);
      throw new CliExit(`lookup failed: ${errText(-r)}`);
    }
    out(keyValueText(m, k, v.subarray(0, m.map.valueBufSize), json));
  } finally {
    m.fd.close();
  }
}

/** map update MAP key DATA value VALUE [flags] (map push|enqueue MAP value VALUE: no key). */
export function mapUpdate(args: string[], cmd = 'update'): void {
  const sel = parseSelector(args, 'map');
  const { key, value, flag } = splitKeyValue(sel.rest);
  if (!value || (!key && cmd === 'update')) throw new UsageError(cmd === 'update' ? 'map update MAP key DATA value VALUE [UPDATE_FLAGS]' : `map ${cmd} MAP value VALUE`);
  const m = openMapWithBtf(sel);
  try {
    if (key && !m.info.keySize) throw new UsageError(`map ${cmd}: unnecessary key (a ${mapTypeName(m.info.type)} map has none)`);
    if (!key && m.info.keySize) throw new UsageError(`map ${cmd} MAP key DATA value VALUE: did not find key`);
    const k = key ? parseBytesOrJson(key, m.info.keySize, m.keyCodec, 'key') : null;
    let v: Uint8Array;
    if (m.map.percpu) {
      // One value for every CPU, like bpftool.
      const one = parseBytesOrJson(value, m.info.valueSize, m.valueCodec, 'value');
      const stride = Math.ceil(m.info.valueSize / 8) * 8;
      v = new Uint8Array(m.map.valueBufSize);
      for (let c = 0; c < m.map.ncpu; c++) v.set(one, c * stride);
    } else if (m.info.type === MapType.PROG_ARRAY || m.info.type === MapType.ARRAY_OF_MAPS || m.info.type === MapType.HASH_OF_MAPS) {
      v = resolveFdValue(value, m.info.type === MapType.PROG_ARRAY ? 'prog' : 'map');
    } else v = parseBytesOrJson(value, m.info.valueSize, m.valueCodec, 'value');
    const flags = flag === 'exist' ? BPF_EXIST : flag === 'noexist' ? BPF_NOEXIST : BPF_ANY;
    const elem = new ElemAttr(m.fd.value);
    const r = elem.call(Cmd.MAP_UPDATE_ELEM, k, v, flags);
    if (r < 0) throw new CliExit(`update failed: ${errText(-r)}`);
    if (globals.json) out(jsonText(null) + '\n'); // bpftool -j prints null on success
  } finally {
    m.fd.close();
  }
}

/** `value id N` / `value pinned PATH` for prog arrays and map-in-map: the kernel wants an fd. */
function resolveFdValue(words: string[], kind: 'prog' | 'map'): Uint8Array {
  const sel = parseSelector(words, kind);
  const fd = kind === 'prog' ? openProgs(sel)[0]! : openMap(sel);
  // The fd must stay open until the update: leak it into the process (exits right after).
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, fd.value, true);
  return b;
}

export function errText(errno: number): string {
  return errnoMessage(errno);
}

/** glibc's strerror, which bpftool prints: the kernel-internal errnos (512-530) are unknown to it. */
const strerror = (errno: number) => (errno >= 512 && errno <= 530 ? `Unknown error ${errno}` : errnoMessage(errno));

export function mapDelete(args: string[]): void {
  const sel = parseSelector(args, 'map');
  const { key } = splitKeyValue(sel.rest);
  if (!key) throw new UsageError('map delete MAP key DATA');
  const m = openMapWithBtf(sel);
  try {
    const k = parseBytesOrJson(key, m.info.keySize, m.keyCodec, 'key');
    const r = new ElemAttr(m.fd.value).call(Cmd.MAP_DELETE_ELEM, k, null);
    if (r < 0) throw new CliExit(`delete failed: ${errText(-r)}`);
  } finally {
    m.fd.close();
  }
}

export function mapGetNext(args: string[], json: boolean): void {
  const sel = parseSelector(args, 'map');
  const { key } = splitKeyValue(sel.rest);
  const m = openMapWithBtf(sel);
  try {
    const k = key ? parseBytesOrJson(key, m.info.keySize, m.keyCodec, 'key') : null;
    const next = new Uint8Array(m.info.keySize);
    const r = new ElemAttr(m.fd.value).call(Cmd.MAP_GET_NEXT_KEY, k, next);
    if (r < 0) throw new CliExit(`can't get next key: ${errText(-r)}`);
    if (json) out(jsonText({ key: k ? hexArray(k) : null, next_key: hexArray(next) }) + '\n');
    else out(`key:${k ? `\n${hexBytes(k)}` : ' None'}\nnext key:\n${hexBytes(next)}\n`);
  } finally {
    m.fd.close();
  }
}

/**
 * map create FILE type TYPE key KEY_SIZE value VALUE_SIZE entries N name NAME [flags F]
 * [inner_map MAP]: bpftool's syntax; the map is pinned at FILE (nothing else holds it).
 */
export function mapCreateCmd(args: string[]): void {
  const [file, ...rest] = args;
  if (!file) throw new UsageError('map create FILE type TYPE key KEY_SIZE value VALUE_SIZE entries N name NAME [flags F] [inner_map MAP]');
  const words = keywordArgs('map create', rest, { type: 1, key: 1, value: 1, entries: 1, name: 1, flags: 1, inner_map: 2 });
  const kw = Object.fromEntries(Object.entries(words).map(([k, v]) => [k, v[0]!])) as Record<string, string>;
  let inner: Fd | undefined;
  try {
    if (words.inner_map) inner = openMap(parseSelector(words.inner_map, 'map'));
    for (const k of ['type', 'key', 'value', 'entries', 'name']) if (kw[k] === undefined) throw new UsageError(`map create: '${k}' is required`);
    const type = (MapType as Record<string, number>)[kw.type!.toUpperCase()];
    if (type === undefined) throw new UsageError(`map create: unknown map type '${kw.type}' (e.g. hash, array, percpu_hash, lru_hash, ringbuf)`);
    const n = (k: string) => {
      const v = kw[k];
      if (v === undefined) return 0;
      if (!/^(0x[0-9a-f]+|\d+)$/i.test(v)) throw new UsageError(`map create: ${k} '${v}' is not a number`);
      return Number(v);
    };
    const fd = mapCreate({ type, keySize: n('key'), valueSize: n('value'), maxEntries: n('entries'), flags: n('flags'), name: kw.name, innerMapFd: inner?.value }, `map create ${kw.name}`);
    try {
      objPin(fd.value, file, `pin map at ${file}`);
    } finally {
      fd.close();
    }
  } finally {
    inner?.close();
  }
}

export function mapPin(args: string[]): void {
  const sel = parseSelector(args, 'map');
  const path = sel.rest[0];
  if (!path) throw new UsageError('map pin MAP FILE: missing FILE');
  const fd = openMap(sel);
  try {
    objPin(fd.value, path);
  } finally {
    fd.close();
  }
}
