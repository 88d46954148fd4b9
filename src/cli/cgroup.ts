// `bee-ts cgroup show PATH [effective]` and `cgroup tree [ROOT]`: like bpftool cgroup, the
// programs attached to cgroups (BPF_PROG_QUERY per attach type), in bpftool's columns and JSON.
import fs from 'node:fs';
import path from 'node:path';
import { cgroup2Root } from '../link/attach.js';
import { fdById, progQuery } from '../syscall/bpf.js';
import { AttachType, attachTypeName } from '../syscall/constants.js';
import { BpfError, EACCES, EPERM } from '../syscall/errno.js';
import { progInfo } from '../syscall/info.js';
import { UsageError } from './errors.js';

const BPF_F_QUERY_EFFECTIVE = 1;
const BPF_F_ALLOW_OVERRIDE = 1;
const BPF_F_ALLOW_MULTI = 2;
/** Attach types a cgroup can have: the CGROUP_* ones and LSM_CGROUP, in numeric order. */
const CGROUP_ATTACH_TYPES = Object.entries(AttachType)
  .filter(([n]) => n.startsWith('CGROUP_') || n === 'LSM_CGROUP')
  .map(([, v]) => v as number)
  .sort((a, b) => a - b);

export interface CgroupProg {
  id: number;
  attach_type: string;
  attach_flags?: string;
  name: string;
  attach_btf_name: string;
  attach_btf_obj_id: number;
  attach_btf_id: number;
}

function flagsText(f: number): string {
  if (f & BPF_F_ALLOW_MULTI) return 'multi';
  if (f & BPF_F_ALLOW_OVERRIDE) return 'override';
  return '';
}

/** The programs attached to one cgroup directory, by attach type. */
export function cgroupPrograms(dir: string, effective = false): CgroupProg[] {
  let fd: number;
  try {
    fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  } catch (e) {
    throw new UsageError(`cgroup ${dir}: cannot open (${(e as NodeJS.ErrnoException).code}); give a cgroup v2 directory`);
  }
  const out: CgroupProg[] = [];
  try {
    for (const type of CGROUP_ATTACH_TYPES) {
      let q;
      try {
        q = progQuery(fd, type, `cgroup ${dir}`, 256, effective ? BPF_F_QUERY_EFFECTIVE : 0);
      } catch (e) {
        // Like bpftool, an attach type whose query fails is skipped (EINVAL: not a cgroup type on
        // this kernel; ENOMEM was seen once on the root cgroup); only a permission error stops.
        if (e instanceof BpfError && e.errno !== EPERM && e.errno !== EACCES) continue;
        throw e;
      }
      for (const id of q.progIds) {
        let name = '';
        let btfObj = 0;
        let btfId = 0;
        try {
          using pfd = fdById('prog', id);
          const info = progInfo(pfd.value);
          name = info.name;
          btfObj = info.attachBtfObjId ?? 0;
          btfId = info.attachBtfId ?? 0;
        } catch {
          /* detached meanwhile */
        }
        // bpftool's key order: attach_flags sits between attach_type and name.
        out.push({
          id,
          attach_type: attachTypeName(type),
          ...(effective ? {} : { attach_flags: flagsText(q.attachFlags) }),
          name,
          attach_btf_name: '',
          attach_btf_obj_id: btfObj,
          attach_btf_id: btfId,
        });
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return out;
}

const header = (effective: boolean) => (effective ? `${'ID'.padEnd(8)} ${'AttachType'.padEnd(15)} ${'Name'.padEnd(15)}` : `${'ID'.padEnd(8)} ${'AttachType'.padEnd(15)} ${'AttachFlags'.padEnd(15)} ${'Name'.padEnd(15)}`);

function row(p: CgroupProg, indent: string): string {
  const flags = p.attach_flags !== undefined ? ` ${p.attach_flags.padEnd(15)}` : '';
  const btf = p.attach_btf_name ? ` ${p.attach_btf_name.padEnd(15)}` : p.attach_btf_id ? ` attach_btf_obj_id=${p.attach_btf_obj_id} attach_btf_id=${p.attach_btf_id}` : ` ${''.padEnd(15)}`;
  return `${indent}${String(p.id).padEnd(8)} ${p.attach_type.padEnd(15)}${flags} ${p.name.padEnd(15)}${btf}`;
}

export function cgroupShowText(progs: CgroupProg[], effective: boolean): string {
  if (progs.length === 0) return '';
  return [header(effective), ...progs.map((p) => row(p, ''))].join('\n') + '\n';
}

/** Pre-order walk of a cgroup v2 hierarchy: every cgroup with programs attached. */
export interface CgroupNode {
  cgroup: string;
  programs: CgroupProg[];
}

/** The directory a tree walk starts from (bpftool shows its rows unindented, the rest indented). */
export function walkRoot(root = cgroup2Root()): string {
  return root.replace(/\/+$/, '') || '/';
}

export function cgroupTree(root?: string): CgroupNode[] {
  const top = walkRoot(root);
  if (!fs.existsSync(top)) throw new UsageError(`cgroup tree: ${top} does not exist`);
  const out: CgroupNode[] = [];
  const walk = (dir: string) => {
    const progs = cgroupPrograms(dir);
    if (progs.length) out.push({ cgroup: dir, programs: progs });
    let entries: fs.Dirent[] = [];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory()) walk(path.join(dir, e.name));
  };
  walk(top);
  return out;
}

export function cgroupTreeText(t: CgroupNode[], root?: string): string {
  const top = walkRoot(root);
  const lines = ['CgroupPath', header(false)];
  for (const c of t) {
    lines.push(c.cgroup);
    for (const p of c.programs) lines.push(row(p, c.cgroup === top ? '' : '    '));
  }
  return lines.join('\n') + '\n';
}
