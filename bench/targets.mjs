#!/usr/bin/env node
// bench/targets: issue 13's targets as a Markdown table, from one `npm run bench` run's results
// (the JSON lines bench/run.mjs collects: each bench's --json result). README's target table is
// this script's output, pasted. Usage: node bench/targets.mjs RESULTS.jsonl
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

const x = (v, d = 2) => `${v.toFixed(d)}×`;
const ms = (v) => `${v.toFixed(1)} ms`;
const met = (ok) => (ok === undefined ? '–' : ok ? 'met' : 'not met');

/** One row per target: what, bee-ts, peer, ratio, target, met. A bench that did not run leaves its rows out. */
export function targetRows(results) {
  const by = new Map(results.map((r) => [r.bench, r]));
  const rows = [];
  const row = (what, ours, peer, ratio, target, ok) => rows.push({ what, ours, peer, ratio, target, met: met(ok) });

  const li = by.get('load-inproc');
  if (li) {
    const f = (impl) => li.rows.find((r) => r.impl === impl && r.object === 'CO-RE');
    const r = li.ratios['first CO-RE cpu'];
    row('first CO-RE load in a process, CPU', ms(f('bee-ts').firstCpuMs), `libbpf ${ms(f('libbpf').firstCpuMs)}`, x(r), '≤ 2×', r <= 2);
  }
  const load = by.get('load');
  if (load) {
    const w = (c) => load.rows.find((r) => r.command === c)?.wallMs;
    for (const kind of ['CO-RE', 'non-CO-RE']) {
      const ours = w(`bee-ts ${kind}`);
      const bound = w('node -e 0') + 2 * w(`bpftool ${kind}`);
      if (ours === undefined || Number.isNaN(bound)) continue;
      row(`whole-process \`prog loadall\`, ${kind}, wall`, ms(ours), `node -e 0 + 2 × bpftool = ${w('node -e 0').toFixed(1)} + 2 × ${w(`bpftool ${kind}`).toFixed(1)} = ${ms(bound)}`, `${x(ours / bound)} the bound`, kind === 'CO-RE' ? '≤ 1× the bound' : '– (the issue names CO-RE)', kind === 'CO-RE' ? ours <= bound : undefined);
    }
  }
  const rss = by.get('idle-rss');
  if (rss) row('idle `bee-ts run examples/tcpconnect.o`, RSS', `${rss.peakMiB.toFixed(1)} MiB (samples ${rss.minMiB.toFixed(0)}–${rss.maxMiB.toFixed(0)})`, '–', '–', '≤ 80 MiB', rss.peakMiB <= 80);
  const btf = by.get('btf');
  if (btf) {
    for (const format of ['raw', 'c']) {
      const o = btf.rows.find((r) => r.command === `bee-ts ${format}`);
      const p = btf.rows.find((r) => r.command === `bpftool ${format}`);
      if (!o || !p) continue;
      row(`\`btf dump … format ${format}\`, CPU`, `${o.cpu.toFixed(0)} ms, ${o.rssMiB.toFixed(0)} MiB RSS`, `bpftool ${p.cpu.toFixed(0)} ms, ${p.rssMiB.toFixed(0)} MiB`, x(o.cpu / p.cpu), '≤ 2×', o.cpu <= 2 * p.cpu);
    }
  }
  const st = by.get('startup');
  if (st) {
    const node = st.rows.find((r) => r.command === 'node -e 0').wallMs;
    for (const c of ['bee-ts --help', 'bee-ts prog list', 'bee-ts map list', 'bee-ts prog show']) {
      const o = st.rows.find((r) => r.command === c);
      if (o) row(`\`${c.slice(7)}\`, wall`, ms(o.wallMs), `node -e 0 ${ms(node)}`, x(o.wallMs / node), '≤ 1.5×', o.wallMs <= 1.5 * node);
    }
  }
  const ev = by.get('run-events');
  if (ev) {
    const o = ev.rows.find((r) => r.tool === 'bee-ts');
    const p = ev.rows.find((r) => r.tool === 'bpftrace');
    const r = p ? o.usPerEvent / p.usPerEvent : undefined;
    row(`\`run\` at ${ev.rate / 1000} k events/s, CPU per event`, `${o.usPerEvent.toFixed(2)} µs`, p ? `bpftrace ${p.usPerEvent.toFixed(2)} µs` : '–', r === undefined ? '–' : x(r), '≤ 1.5 µs and ≤ 0.4×', o.usPerEvent <= 1.5 && (r === undefined || r <= 0.4));
    const per = (t) => t.rounds.map((s) => s.drops);
    const lostAfter = o.rounds.map((s) => s.afterProbe).filter((v) => v !== undefined);
    row(`\`run\` at ${ev.rate / 1000} k events/s, drops per round`, `${per(o).join(', ')}${lostAfter.length ? ` (lost after the probe ran: ${lostAfter.join(', ')})` : ''}`, p ? `bpftrace ${per(p).join(', ')}` : '–', '–', '0 in every round', per(o).every((d) => d === 0));
  }
  const maps = by.get('maps');
  if (maps) {
    const r = (op) => maps.rows.find((x) => x.op === op);
    const ops = ['update', 'lookup', 'delete'].map(r);
    const raw = ops.map((o) => o.libbpfNs / o.beeTsNs);
    const num = ops.map((o) => o.libbpfNs / o.beeTsNumberKeyNs);
    row('map update / lookup / delete, ops/s, raw keys', ops.map((o) => `${o.beeTsNs.toFixed(0)}`).join(' / ') + ' ns', 'libbpf ' + ops.map((o) => `${o.libbpfNs.toFixed(0)}`).join(' / ') + ' ns', raw.map((v) => x(v)).join(' / '), '≥ 0.75×', raw.every((v) => v >= 0.75));
    row('map update / lookup / delete, ops/s, number keys', ops.map((o) => `${o.beeTsNumberKeyNs.toFixed(0)}`).join(' / ') + ' ns', 'libbpf (raw keys)', num.map((v) => x(v)).join(' / '), '≥ 0.75×', num.every((v) => v >= 0.75));
    // lookup(k) returns a fresh copy of the value: an allocation libbpf's call does not make.
    const copy = r('lookup, a copy');
    if (copy) row('map `lookup(k)` returning a copy, ops/s', `${copy.beeTsNs.toFixed(0)} ns`, `libbpf ${copy.libbpfNs.toFixed(0)} ns (into a buffer)`, x(copy.libbpfNs / copy.beeTsNs), '– (not libbpf\'s call)', undefined);
    const d = r('dump');
    row('batch dump (`dumpFlat`), per element', `${d.beeTsNs.toFixed(0)} ns`, `libbpf ${d.libbpfNs.toFixed(0)} ns`, x(d.libbpfNs / d.beeTsNs), '≥ 0.8×', d.libbpfNs / d.beeTsNs >= 0.8);
  }
  const rb = by.get('ringbuf');
  if (rb) {
    for (const [size, label] of [['16B', '16 B'], ['64B', '64 B'], ['mixed sizes', 'mixed sizes']]) {
      const v = rb.ratios[`bee-ts/libbpf consume ${size}`];
      if (v === undefined) continue;
      const sz = size === 'mixed sizes' ? 'mixed' : Number(size.slice(0, -1));
      const find = (impl, api) => rb.rows.find((r) => r.impl === impl && r.mode === 'consume' && r.size === sz && (api === undefined || r.api === api));
      const rec = find('bee-ts', 'record');
      const peer = find('libbpf');
      const rate = (r) => (r === undefined ? '' : `${(r.recordsPerSec / 1e6).toFixed(0)} M rec/CPU s`);
      row(`ring drain, ${label}`, rate(rec), `libbpf ${rate(peer)}`, x(v), '≥ 1.0×', v >= 1);
    }
  }
  return rows;
}

export function targetTable(results) {
  const lines = ['| what (issue 13 target) | bee-ts | peer | ratio | target | met? |', '|---|---|---|---|---|---|'];
  for (const r of targetRows(results)) lines.push(`| ${r.what} | ${r.ours} | ${r.peer} | ${r.ratio} | ${r.target} | ${r.met} |`);
  return lines.join('\n') + '\n';
}

export function readResults(file) {
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (!process.argv[2]) {
    console.error('usage: node bench/targets.mjs RESULTS.jsonl (bench/run.mjs --save FILE writes one)');
    process.exit(2);
  }
  process.stdout.write(targetTable(readResults(process.argv[2])));
}
