// `btf show|list [id N]`: the kernel's BTF objects with the programs and maps using each, in
// bpftool's layout and order.
import { fdById } from '../syscall/bpf.js';
import { btfInfo, mapInfo, progInfo } from '../syscall/info.js';
import { UsageError } from './errors.js';
import { hashmapOrder, jsonText } from './format.js';
import { eachId, out, parseSelector } from './objects.js';

export function btfList(args: string[], json: boolean): void {
  let only: number | undefined;
  if (args.length) {
    const sel = parseSelector(args, 'btf');
    if (sel.rest.length) throw new UsageError(`btf show: unexpected '${sel.rest.join(' ')}' (btf show [id N])`);
    only = Number(sel.what);
    fdById('btf', only).close(); // bpftool's error for an id that does not exist
  }
  // prog_ids/map_ids are not in bpf_btf_info: group programs and maps by their btf_id, in
  // the order bpftool's hash table gives them.
  const progPairs: [number, number][] = [];
  const mapPairs: [number, number][] = [];
  eachId('prog', (fd) => {
    const i = progInfo(fd.value);
    if (i.btfId) progPairs.push([i.btfId, i.id]);
  });
  eachId('map', (fd) => {
    const i = mapInfo(fd.value);
    if (i.btfId) mapPairs.push([i.btfId, i.id]);
  });
  const progsBy = hashmapOrder(progPairs);
  const mapsBy = hashmapOrder(mapPairs);
  const objs: Record<string, unknown>[] = [];
  eachId('btf', (fd) => {
    const i = btfInfo(fd.value);
    if (only !== undefined && i.id !== only) return;
    const o: Record<string, unknown> = { id: i.id, size: i.size, prog_ids: progsBy.get(i.id) ?? [], map_ids: mapsBy.get(i.id) ?? [], kernel: i.kernelBtf };
    if (i.name) o.name = i.name;
    objs.push(o);
  });
  if (json) return void out(jsonText(only !== undefined ? objs[0] : objs) + '\n');
  for (const o of objs) {
    let s = `${o.id}: name ${o.name ? (o.kernel ? `[${o.name}]` : o.name) : '<anon>'}  size ${o.size}B`;
    if ((o.prog_ids as number[]).length) s += `  prog_ids ${(o.prog_ids as number[]).join(',')}`;
    if ((o.map_ids as number[]).length) s += `  map_ids ${(o.map_ids as number[]).join(',')}`;
    out(s + '\n');
  }
}
