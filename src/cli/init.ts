// `bee-ts init`: bee's prompts (shared notes §10) and flags to skip them, writing a probe that
// compiles with `bee-ts build` and runs with `bee-ts run`. bee's Network templates hook
// kprobe/tcp_v4_connect; on kernels without kprobes (like many VMs) bee-ts writes the
// tracepoint equivalent (sock/inet_sock_set_state) instead, or as --hook says.
import fs from 'node:fs';
import readline from 'node:readline';
import { UsageError } from './errors.js';

export interface InitFlags {
  language?: string;
  programType?: string;
  map?: string;
  outputType?: string;
  file?: string;
  hook?: string;
  force?: boolean;
}

const LANGS = ['C'];
const PROGRAM_TYPES = ['Network', 'FileSystem'];
const MAP_TYPES = ['RingBuffer', 'HashMap'];
const OUTPUTS = ['print', 'counter', 'gauge'];

const HEADER = `#include "vmlinux.h"
#include "bpf_helpers.h"
#include "bpf_core_read.h"
#include "bpf_tracing.h"
#include "solo_types.h"

// 1. Change the license if necessary
char __license[] SEC("license") = "Dual MIT/GPL";
`;

function networkRingbuf(prefix: string, hook: 'kprobe' | 'tracepoint'): string {
  const gauge = prefix === 'gauge_';
  const fields = `\tipv4_addr saddr;\n\tipv4_addr daddr;\n\tu32 pid;${gauge ? '\n\tu64 value; // a gauge_ ring buffer sets its gauge from this field' : ''}`;
  const fill = `\t\te->pid = bpf_get_current_pid_tgid() >> 32;${gauge ? '\n\t\te->value = 1;' : ''}`;
  const body =
    hook === 'kprobe'
      ? `SEC("kprobe/tcp_v4_connect")
int BPF_KPROBE(tcp_v4_connect, struct sock *sk)
{
	struct event_t *e = bpf_ringbuf_reserve(&${prefix}events, sizeof(struct event_t), 0);
	if (e) {
		// 4. Fill the event from the function's arguments
		e->saddr = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		e->daddr = BPF_CORE_READ(sk, __sk_common.skc_daddr);
${fill}
		bpf_ringbuf_submit(e, 0);
	}
	return 0;
}`
      : `SEC("tracepoint/sock/inet_sock_set_state")
int trace_connect(struct trace_event_raw_inet_sock_set_state *ctx)
{
	// TCP connection attempts: the transition to SYN_SENT (2) over IPv4 (AF_INET = 2)
	if (ctx->family != 2 || ctx->newstate != 2)
		return 0;
	struct event_t *e = bpf_ringbuf_reserve(&${prefix}events, sizeof(struct event_t), 0);
	if (e) {
		// 4. Fill the event from the tracepoint's fields
		__builtin_memcpy(&e->saddr, ctx->saddr, 4);
		__builtin_memcpy(&e->daddr, ctx->daddr, 4);
${fill}
		bpf_ringbuf_submit(e, 0);
	}
	return 0;
}`;
  return `${HEADER}
// 2. Define the fields of the events your program sends to user space
struct event_t {
${fields}
} __attribute__((packed));

// 3. The ring buffer: bee-ts prints, counts or gauges its records by the name prefix
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 24);
	__type(value, struct event_t);
} ${prefix}events SEC(".maps");

${body}
`;
}

function networkHash(prefix: string, hook: 'kprobe' | 'tracepoint'): string {
  const sec = hook === 'kprobe' ? 'SEC("kprobe/tcp_v4_connect")\nint BPF_KPROBE(tcp_v4_connect, struct sock *sk)' : 'SEC("tracepoint/sock/inet_sock_set_state")\nint trace_connect(struct trace_event_raw_inet_sock_set_state *ctx)';
  const guard = hook === 'kprobe' ? '' : '\t// TCP connection attempts: the transition to SYN_SENT (2) over IPv4 (AF_INET = 2)\n\tif (ctx->family != 2 || ctx->newstate != 2)\n\t\treturn 0;\n';
  return `${HEADER}
// 2. Define the key of your map: one series per distinct key
struct dimensions_t {
	u32 pid;
} __attribute__((packed));

// 3. The hash map: bee-ts polls it and exports its values by the name prefix
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, struct dimensions_t);
	__type(value, u64);
} ${prefix}values SEC(".maps");

${sec}
{
${guard}	// 4. Count per key
	struct dimensions_t key = { .pid = bpf_get_current_pid_tgid() >> 32 };
	u64 one = 1, *v = bpf_map_lookup_elem(&${prefix}values, &key);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&${prefix}values, &key, &one, BPF_NOEXIST);
	return 0;
}
`;
}

function fileSystem(): string {
  return `${HEADER}
// 2. Define the fields of the events your program sends to user space
struct event {
	char fname[255];
};

// 3. The ring buffer: print_ makes bee-ts print each record
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 24);
	__type(value, struct event);
} print_events SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_openat")
int trace_openat(struct trace_event_raw_sys_enter *ctx)
{
	struct event *e = bpf_ringbuf_reserve(&print_events, sizeof(struct event), 0);
	if (!e)
		return 0;
	// 4. Copy the file name the process asked for
	bpf_probe_read_user_str(e->fname, sizeof(e->fname), (const char *)ctx->args[1]);
	bpf_ringbuf_submit(e, 0);
	return 0;
}
`;
}

export function template(programType: string, map: string, output: string, hook: 'kprobe' | 'tracepoint'): string {
  if (programType === 'FileSystem') return fileSystem();
  const prefix = `${output}_`;
  return map === 'HashMap' ? networkHash(prefix, hook) : networkRingbuf(prefix, hook);
}

function pick(value: string | undefined, options: string[], flag: string): string | undefined {
  if (value === undefined) return undefined;
  const hit = options.find((o) => o.toLowerCase() === value.toLowerCase());
  if (!hit) throw new UsageError(`${flag}: '${value}' is not one of ${options.join(', ')}`);
  return hit;
}

export async function init(f: InitFlags, io: { input: NodeJS.ReadableStream; output: NodeJS.WritableStream } = { input: process.stdin, output: process.stdout }): Promise<string> {
  let language = pick(f.language, LANGS, '-l/--language');
  let programType = pick(f.programType, PROGRAM_TYPES, '--program-type');
  let map = pick(f.map, MAP_TYPES, '-m/--map');
  let output = pick(f.outputType, OUTPUTS, '-o/--output-type');
  if (programType === 'FileSystem' && (map || output)) throw new UsageError('FileSystem programs take no --map or --output-type (they print file opens)');
  const hook = f.hook ? (pick(f.hook, ['kprobe', 'tracepoint'], '--hook') as 'kprobe' | 'tracepoint') : fs.existsSync('/sys/bus/event_source/devices/kprobe/type') ? 'kprobe' : 'tracepoint';
  let rl: readline.Interface | undefined;
  const lines: string[] = [];
  let waiting: ((s: string | undefined) => void) | undefined;
  let closed = false;
  const ask = async (q: string, options?: string[], def?: string): Promise<string> => {
    if (!rl) {
      rl = readline.createInterface({ input: io.input, terminal: false });
      rl.on('line', (l) => (waiting ? (waiting(l), (waiting = undefined)) : lines.push(l)));
      rl.on('close', () => {
        closed = true;
        waiting?.(undefined);
        waiting = undefined;
      });
    }
    for (;;) {
      io.output.write(`${q}${options ? ` [${options.join('/')}]` : ''}${def ? ` (${def})` : ''}: `);
      const got = lines.length ? lines.shift()! : closed ? undefined : await new Promise<string | undefined>((r) => (waiting = r));
      if (got === undefined) {
        // No more input: take the default, or say which flag answers the question.
        io.output.write('\n');
        if (def !== undefined) return def;
        throw new UsageError(`no answer to '${q}' (input ended); answer it with a flag (see bee-ts init --help)`);
      }
      const answer = got.trim();
      if (!options) return answer || def || '';
      const hit = options.find((o) => o.toLowerCase() === (answer || def || '').toLowerCase());
      if (hit) return hit;
      io.output.write(`Please answer one of ${options.join(', ')}\n`);
    }
  };
  try {
    language ??= await ask('What language do you wish to use for the filter', LANGS, 'C');
    io.output.write(`Selected Language: ${language}\n`);
    programType ??= await ask('What type of program to initialize', PROGRAM_TYPES);
    io.output.write(`Selected Program Type: ${programType}\n`);
    if (programType === 'Network') {
      map ??= await ask('What type of map should we initialize', MAP_TYPES);
      io.output.write(`Selected Map Type: ${map}\n`);
      output ??= await ask('What type of output would you like from your map', OUTPUTS);
      io.output.write(`Selected Output Type: ${output}\n`);
    }
    const file = f.file || (await ask('BPF Program File Location', undefined, 'bee.c')) || 'bee.c';
    if (fs.existsSync(file) && !f.force) throw new UsageError(`${file} exists; remove it or pass --force`);
    fs.writeFileSync(file, template(programType, map ?? 'RingBuffer', output ?? 'print', hook));
    io.output.write(`Successfully wrote skeleton BPF program${programType === 'Network' ? ` (${hook} hook)` : ''} to ${file}\n`);
    return file;
  } finally {
    rl?.close();
  }
}
