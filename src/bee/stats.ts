// What `bee-ts run` lost, and why, per watched map: the one place that counts drops. Reported on
// stderr (one line per interval when something changed, and a total at the end) and exported as
// bee-ts's own metrics next to the probe's (names in SELF_METRICS, so they can be renamed in one
// place).

/** Why a record did not reach the output. */
export type DropReason =
  /** JSON lines: stdout was slower than the probe and the bounded output queue was full. */
  | 'output_queue'
  /** Perf buffer: the kernel reported samples it could not write (the per-CPU ring was full). */
  | 'perf_lost'
  /** Shorter than the record's struct: cannot be decoded. */
  | 'short_record'
  /** The formatter threw on the record's bytes. */
  | 'decode_error'
  /** TUI: the row left the map's table, which keeps the newest MAX_EVENT_ROWS (src/bee/tui.ts). */
  | 'tui_rows';

export const DROP_REASONS: readonly DropReason[] = ['output_queue', 'perf_lost', 'short_record', 'decode_error', 'tui_rows'];

const DROP_TEXT: Record<DropReason, string> = {
  output_queue: 'dropped at the output queue (stdout too slow)',
  perf_lost: 'lost in the kernel (perf buffer full)',
  short_record: 'too short for their struct',
  decode_error: 'could not be decoded',
  tui_rows: 'dropped from the terminal view (it keeps the newest 1000 rows per map)',
};

/** bee-ts's self-metrics: every name in one table. */
export const SELF_METRICS = {
  records: { name: 'bee_ts_records_total', help: 'bee-ts: records read from a watched ring or perf buffer' },
  dropped: { name: 'bee_ts_records_dropped_total', help: 'bee-ts: records read or announced by the kernel that did not reach the output, by reason (output_queue, perf_lost, short_record, decode_error, tui_rows)' },
  ringFullSightings: {
    name: 'bee_ts_ring_full_sightings_total',
    help: 'bee-ts: drains that found a ring buffer full (less free space than one record). A count of sightings, not of lost records: the kernel drops what it cannot reserve meanwhile, and only the probe can count those (failed bpf_ringbuf_reserve calls)',
  },
  queueBytes: { name: 'bee_ts_output_queue_bytes', help: 'bee-ts: bytes of JSON lines waiting for stdout' },
  seriesEvicted: { name: 'bee_ts_series_evicted_total', help: 'bee-ts: series removed from a metric to keep it under --max-series (oldest first)' },
  seriesRefused: { name: 'bee_ts_series_refused', help: 'bee-ts: entries of a polled map left out of its metric in the last poll (over --max-series)' },
  buildInfo: { name: 'bee_ts_build_info', help: 'bee-ts: version, Node.js version and the probe (file or image, sha256 of the object); always 1' },
  programsAttached: { name: 'bee_ts_programs_attached', help: 'bee-ts: programs of the probe attached to their hooks' },
  lastPoll: { name: 'bee_ts_last_poll_timestamp_seconds', help: 'bee-ts: when each polled map was last read (Unix time)' },
} as const;

export interface MapStats {
  records: number;
  dropped: Record<DropReason, number>;
  /**
   * Drains that found the ring full (RingBufReader.fullSeen). Not a number of records: what the
   * kernel could not reserve meanwhile is lost without a trace in the ring; the probe alone can count it.
   */
  ringFullSightings: number;
}

const emptyDrops = (): Record<DropReason, number> => ({ output_queue: 0, perf_lost: 0, short_record: 0, decode_error: 0, tui_rows: 0 });

export class RunStats {
  readonly maps = new Map<string, MapStats>();
  /** Bytes queued for stdout now (set by the JSON sink). */
  queueBytes = 0;
  /** Pull counts kept elsewhere (a perf reader's lost samples, a ring reader's full-ring sightings). */
  readonly refreshers: (() => void)[] = [];
  private reported = new Map<string, MapStats>();

  of(map: string): MapStats {
    let s = this.maps.get(map);
    if (!s) this.maps.set(map, (s = { records: 0, dropped: emptyDrops(), ringFullSightings: 0 }));
    return s;
  }

  refresh(): void {
    for (const f of this.refreshers) f();
  }

  drop(map: string, reason: DropReason, n = 1): void {
    this.of(map).dropped[reason] += n;
  }

  total(reason: DropReason): number {
    let n = 0;
    for (const s of this.maps.values()) n += s.dropped[reason];
    return n;
  }

  private static describe(map: string, s: MapStats, base?: MapStats): string | undefined {
    const parts: string[] = [];
    for (const r of DROP_REASONS) {
      const d = s.dropped[r] - (base?.dropped[r] ?? 0);
      if (d > 0) parts.push(`${d} ${DROP_TEXT[r]}`);
    }
    const full = s.ringFullSightings - (base?.ringFullSightings ?? 0);
    if (full > 0) parts.push(`ring buffer found full at ${full} drain${full === 1 ? '' : 's'} (records the kernel could not reserve then are not counted here; only the probe can count them)`);
    return parts.length ? `${map}: ${parts.join(', ')}` : undefined;
  }

  /** One line about what changed since the last report, or undefined when nothing did. */
  report(label: string): string | undefined {
    const parts: string[] = [];
    for (const [map, s] of this.maps) {
      const d = RunStats.describe(map, s, this.reported.get(map));
      if (d) parts.push(d);
      this.reported.set(map, { records: s.records, dropped: { ...s.dropped }, ringFullSightings: s.ringFullSightings });
    }
    return parts.length ? `bee-ts: ${label}: ${parts.join('; ')}` : undefined;
  }

  /** One line with every non-zero total, or undefined. */
  summary(): string | undefined {
    const parts: string[] = [];
    for (const [map, s] of this.maps) {
      const d = RunStats.describe(map, s);
      if (d) parts.push(d);
    }
    return parts.length ? `bee-ts: in total: ${parts.join('; ')}` : undefined;
  }
}
