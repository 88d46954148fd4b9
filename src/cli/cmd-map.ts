// `bee-ts map ...`: bpftool's map commands wired to map.ts, mapops.ts, event-pipe.ts.
import type { Command } from 'commander';
import type { CliContext } from './cmd-context.js';
import { globals } from './format.js';

const mapCmds = () => import('./map.js');

export function registerMap(program: Command, ctx: CliContext): void {
  const { kernel } = ctx;
  const map = program.command('map').description('inspect and edit maps (like bpftool map)');
  map
    .command('create')
    .description('create a map and pin it: map create FILE type TYPE key SIZE value SIZE entries N name NAME [flags F] [inner_map MAP]')
    .argument('<args...>')
    .action((args: string[]) => kernel(false, async () => (await mapCmds()).mapCreateCmd(args)));
  map
    .command('list')
    .alias('show')
    .description('list maps, or show MAP: id N | pinned PATH | name NAME')
    .argument('[map...]', 'MAP selector')
    .option('-j, --json', 'print JSON (bpftool -j keys)')
    .action((args: string[], o: { json?: boolean }) => kernel(o.json, async () => (await import('./show.js')).mapShow(args, !!o.json)));
  map
    .command('dump')
    .description('dump all entries: map dump MAP (formatted with BTF when the map has it)')
    .argument('<map...>')
    .option('-j, --json', 'print JSON (raw bytes plus "formatted")')
    .action((args: string[], o: { json?: boolean }) => kernel(o.json, async () => (await mapCmds()).mapDump(args, !!o.json)));
  map
    .command('lookup')
    .description("map lookup MAP key DATA   (DATA: bytes '1 0 0 0', 'hex 01 00 00 00', or JSON for maps with BTF)")
    .argument('<args...>')
    .option('-j, --json', 'print JSON')
    .action((args: string[], o: { json?: boolean }) => kernel(o.json, async () => (await mapCmds()).mapLookup(args, !!o.json)));
  map
    .command('update')
    .description('map update MAP key DATA value VALUE [any|exist|noexist]   (prog arrays: value id N | pinned PATH)')
    .argument('<args...>')
    .action((args: string[]) => kernel(false, async () => (await mapCmds()).mapUpdate(args)));
  map
    .command('delete')
    .description('map delete MAP key DATA')
    .argument('<args...>')
    .action((args: string[]) => kernel(false, async () => (await mapCmds()).mapDelete(args)));
  map
    .command('getnext')
    .description('map getnext MAP [key DATA]')
    .argument('<args...>')
    .option('-j, --json', 'print JSON')
    .action((args: string[], o: { json?: boolean }) => kernel(o.json, async () => (await mapCmds()).mapGetNext(args, !!o.json)));
  map
    .command('peek')
    .description('the next value of a queue or stack without taking it: map peek MAP (like bpftool)')
    .argument('<args...>')
    .option('-j, --json', 'print JSON')
    .action((args: string[], o: { json?: boolean }) => kernel(o.json, async () => (await mapCmds()).mapLookup(args, !!o.json, 'peek')));
  for (const name of ['push', 'enqueue'])
    map
      .command(name)
      .description(`add a value to a ${name === 'push' ? 'stack (or queue)' : 'queue (or stack)'}: map ${name} MAP value VALUE (like bpftool)`)
      .argument('<args...>')
      .action((args: string[]) => kernel(false, async () => (await mapCmds()).mapUpdate(args, name)));
  for (const name of ['pop', 'dequeue'])
    map
      .command(name)
      .description(`take the next value out of a ${name === 'pop' ? 'stack (or queue)' : 'queue (or stack)'}: map ${name} MAP (like bpftool)`)
      .argument('<args...>')
      .option('-j, --json', 'print JSON')
      .action((args: string[], o: { json?: boolean }) => kernel(o.json, async () => (await import('./mapops.js')).mapPop(args, !!o.json, name)));
  map
    .command('freeze')
    .description('freeze a map: no more updates from user space (map freeze MAP, like bpftool)')
    .argument('<args...>')
    .option('-j, --json', 'print JSON')
    .action((args: string[], o: { json?: boolean }) => kernel(o.json, async () => (await import('./mapops.js')).mapFreezeCmd(args, !!o.json)));
  map
    .command('event_pipe')
    .description("print what programs write to a perf event array (bpf_perf_event_output) until Ctrl-C, like bpftool: map event_pipe MAP [cpu N index M]; -j: a JSON array of {type, cpu, index, timestamp, data}")
    .argument('<args...>')
    .option('-j, --json', 'print JSON')
    .action((args: string[], o: { json?: boolean }) =>
      kernel(o.json, async () => {
        if (o.json) globals.json = true;
        await (await import('./event-pipe.js')).mapEventPipe(args);
      }),
    );
  map
    .command('pin')
    .description('pin a map: map pin MAP FILE')
    .argument('<args...>')
    .action((args: string[]) => kernel(false, async () => (await mapCmds()).mapPin(args)));

}
