// Interactive view for `bee-ts run` on a terminal: a header, one tab per watched map, the focused
// map's table (columns sorted; hash tables add `value`), Ctrl-N/Ctrl-P (or Tab/arrows) to switch,
// ↑/↓ to scroll, q or Ctrl-C to quit. Ring-buffer tables keep the newest rows (bounded); hash rows
// update in place and disappear with their kernel entry. Errors show in red at the bottom.
import type { BeeValue } from './format.js';
import type { PollEntry, Sink } from './sink.js';
import type { RunStats } from './stats.js';
import type { WatchedMap } from './watch.js';

/** Rows an events table keeps (the newest); older rows are dropped and counted (stats tui_rows). */
export const MAX_EVENT_ROWS = 1000;
const ESC = '\x1b[';

interface Table {
  w: WatchedMap;
  columns: string[];
  rows: string[][];
  /** Hash rows by label-set id. */
  keyed?: Map<string, string[]>;
  events: number;
  /** Rows dropped from this table to keep it at MAX_EVENT_ROWS. */
  dropped: number;
}

const LOGO = [
  '  __                 __',
  ' / /_  ___  ___     / /_ ___',
  '/ __ \\/ _ \\/ _ \\___/ __/(_-<',
  '\\___/\\___/\\___/   \\__//___/   bee-ts',
];

export class TuiSink implements Sink {
  private tables: Table[] = [];
  private focus = 0;
  private scroll = 0;
  private file = '';
  private metrics?: string;
  private errors: string[] = [];
  private infos: string[] = [];
  private dirty = false;
  private timer?: NodeJS.Timeout;
  private onKey?: (d: Buffer) => void;
  private stats?: RunStats;
  /** Frames not drawn because the terminal had not taken the previous ones yet. */
  skippedFrames = 0;
  /** The run's final drop summary: printed to stderr once the screen is restored. */
  private summary?: string;

  constructor(
    private readonly quit: () => void,
    private readonly out: NodeJS.WriteStream = process.stdout,
    private readonly input: NodeJS.ReadStream = process.stdin,
  ) {}

  start(watches: WatchedMap[], info: { file: string; metrics?: string }): void {
    this.file = info.file;
    this.metrics = info.metrics;
    this.tables = watches.map((w) => ({
      w,
      columns: w.kind === 'poll' ? [...w.labels, 'value'] : [...w.labels, ...(w.valueField ? [w.valueField] : [])].sort(),
      rows: [],
      keyed: w.kind === 'poll' ? new Map() : undefined,
      events: 0,
      dropped: 0,
    }));
    this.out.write(`${ESC}?1049h${ESC}?25l`);
    if (this.input.isTTY) {
      this.input.setRawMode(true);
      this.input.resume();
      this.onKey = (d) => this.key(d);
      this.input.on('data', this.onKey);
    }
    this.out.on('resize', () => this.render());
    this.timer = setInterval(() => this.dirty && this.render(), 100);
    this.render();
  }

  private key(d: Buffer): void {
    const s = d.toString();
    if (s === 'q' || s === '\x03') return void this.quit();
    if (s === '\x0e' || s === '\t' || s === `${ESC}C`) this.switchTo(this.focus + 1);
    else if (s === '\x10' || s === `${ESC}Z` || s === `${ESC}D`) this.switchTo(this.focus - 1);
    else if (s === `${ESC}A`) this.scroll++;
    else if (s === `${ESC}B`) this.scroll = Math.max(0, this.scroll - 1);
    this.render();
  }

  private switchTo(i: number): void {
    if (this.tables.length === 0) return;
    this.focus = (i + this.tables.length) % this.tables.length;
    this.scroll = 0;
  }

  event(map: string, _entry: BeeValue, labels: Record<string, string>): void {
    const t = this.tables.find((x) => x.w.name === map);
    if (!t) return;
    t.rows.push(t.columns.map((c) => labels[c] ?? ''));
    if (t.rows.length > MAX_EVENT_ROWS) {
      const n = t.rows.length - MAX_EVENT_ROWS;
      t.rows.splice(0, n);
      t.dropped += n;
      this.stats?.drop(map, 'tui_rows', n);
    }
    t.events++;
    this.dirty = true;
  }

  snapshot(map: string, entries: PollEntry[]): void {
    const t = this.tables.find((x) => x.w.name === map);
    if (!t || !t.keyed) return;
    const seen = new Set<string>();
    for (const e of entries) {
      const id = JSON.stringify(e.keyLabels);
      seen.add(id);
      const value = typeof e.value === 'string' ? e.value : JSON.stringify(e.value);
      t.keyed.set(id, t.columns.map((c) => (c === 'value' ? value : (e.keyLabels[c] ?? ''))));
    }
    for (const id of [...t.keyed.keys()]) if (!seen.has(id)) t.keyed.delete(id);
    t.rows = [...t.keyed.values()];
    this.dirty = true;
  }

  useStats(stats: RunStats): void {
    this.stats = stats;
  }

  /** Drop reports go to the footer while the screen is ours (stderr would tear it), the final one to stderr after. */
  statsLine(line: string, final: boolean): void {
    if (final) this.summary = line;
    else this.info(line);
  }

  info(m: string): void {
    this.infos.push(m);
    if (this.infos.length > 3) this.infos.shift();
    this.dirty = true;
  }

  error(m: string): void {
    this.errors.push(m);
    if (this.errors.length > 3) this.errors.shift();
    this.dirty = true;
  }

  /** The screen as lines (also used by tests and README screenshots). */
  frame(width = this.out.columns || 100, height = this.out.rows || 30): string[] {
    const lines: string[] = [];
    const clip = (s: string) => (s.length > width ? s.slice(0, width - 1) + '…' : s);
    for (const l of LOGO) lines.push(clip(l));
    lines.push(clip(`Program location: ${this.file}`));
    lines.push(clip(`Metrics: ${this.metrics ? `http://${this.metrics}/metrics` : 'off'}    Ctrl-N/Ctrl-P (Tab): switch map   ↑/↓: scroll   q/Ctrl-C: quit`));
    lines.push(
      clip(
        this.tables
          .map((t, i) => {
            const label = ` ${t.w.name} (${t.w.role}, ${t.w.kind === 'poll' ? `${t.rows.length} keys` : `${t.events} events${t.dropped ? `, ${t.dropped} dropped from view` : ''}`}) `;
            return i === this.focus ? `${ESC}7m${label}${ESC}0m` : label;
          })
          .join('|'),
      ),
    );
    const t = this.tables[this.focus];
    const footer = [...this.infos.map((m) => `${ESC}2m${clip(m)}${ESC}0m`), ...this.errors.map((m) => `${ESC}31m${clip(`Error: ${m}`)}${ESC}0m`)];
    const room = Math.max(3, height - lines.length - footer.length - 3);
    if (!t) lines.push('(no watched maps: mark maps with print_/counter_/gauge_/hist_ or .maps.<role>)');
    else {
      const sorted = t.w.kind === 'poll' ? [...t.rows].sort((a, b) => a.join('\0').localeCompare(b.join('\0'))) : t.rows;
      const end = Math.max(0, sorted.length - this.scroll);
      const visible = sorted.slice(Math.max(0, end - room), end);
      const widths = t.columns.map((c, i) => Math.min(40, Math.max(c.length, ...visible.map((r) => (r[i] ?? '').length))));
      const row = (cells: string[]) => clip(`│ ${cells.map((c, i) => c.slice(0, widths[i]).padEnd(widths[i]!)).join(' │ ')} │`);
      // Row: "│ " + cells joined by " │ " + " │" = sum(widths) + 3 × columns + 1 characters.
      const inner = widths.reduce((a, b) => a + b + 3, 1) - 2;
      lines.push(clip(`┌─ ${t.w.name} ${'─'.repeat(Math.max(0, inner - t.w.name.length - 3))}┐`));
      lines.push(`${ESC}1m${row(t.columns)}${ESC}0m`);
      for (const r of visible) lines.push(row(r));
      lines.push(clip(`└${'─'.repeat(inner)}┘`));
    }
    lines.push(...footer);
    return lines;
  }

  private render(): void {
    // A terminal that stopped reading (Ctrl-S, a stalled ssh) must not make frames pile up in
    // memory: skip while stdout holds unwritten bytes; the next frame shows the newest state.
    if (this.out.writableNeedDrain) {
      this.dirty = true;
      this.skippedFrames++;
      return;
    }
    this.dirty = false;
    this.out.write(`${ESC}H${ESC}2J${this.frame().join('\n')}`);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.onKey) {
      this.input.off('data', this.onKey);
      if (this.input.isTTY) this.input.setRawMode(false);
      this.input.pause();
    }
    this.out.write(`${ESC}?25h${ESC}?1049l`);
    for (const e of this.errors) process.stderr.write(`Error: ${e}\n`);
    if (this.summary) process.stderr.write(`${this.summary}\n`);
  }
}
