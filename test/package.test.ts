// `bee-ts package`'s pieces without a kernel: the reproducible tar writer, read back by GNU tar;
// the Kubernetes manifests, validated against the Kubernetes API schema and prometheus-operator's
// CRD schema (kubernetes-models' validators, generated from those OpenAPI schemas); YAML output
// read back by an independent YAML parser.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Service } from 'kubernetes-models/v1/Service';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { k8sManifests, toYaml } from '../src/bee/k8s.js';
import { TarError, writeTar } from '../src/bee/tar.js';
import { wantsHostPid } from '../src/cli/package.js';
import { parseObject } from '../src/loader/spec.js';
import { fixture, root, runCli } from './helpers.js';
import { freePort } from './registry-helper.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bee-package-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('reproducible tar layers', () => {
  const long = `deep/${'d'.repeat(120)}/${'n'.repeat(90)}.js`; // > 100 bytes: ustar prefix split
  const huge = `x/${'y'.repeat(200)}/${'z'.repeat(200)}`; // no split fits: PAX path record
  const entries = () => [
    { path: 'usr/bin/node', type: 'file' as const, data: Buffer.from('#!node\n'), executable: true },
    { path: '/etc/passwd', type: 'file' as const, data: Buffer.from('root:x:0:0::/root:/sbin/nologin\n') },
    { path: 'lib', type: 'symlink' as const, target: 'usr/lib' },
    { path: 'ln-long', type: 'symlink' as const, target: `/${'t'.repeat(150)}` },
    { path: long, type: 'file' as const, data: Buffer.from('long') },
    { path: huge, type: 'file' as const, data: Buffer.alloc(700, 7) },
    { path: 'tmp', type: 'dir' as const, mode: 0o1777 },
  ];

  it('is byte-identical for the same entries in any order; GNU tar lists them sorted, root-owned, at the fixed time', () => {
    const a = writeTar(entries(), 0);
    const b = writeTar(entries().reverse(), 0);
    expect(Buffer.compare(a, b)).toBe(0);
    expect(Buffer.compare(a, writeTar(entries(), 86400))).not.toBe(0);
    fs.writeFileSync(path.join(tmp, 'a.tar'), a);
    // TZ=UTC: GNU tar prints the entries' times in the local time zone (1969-12-31 19:00:00 in New York).
    const t = spawnSync('tar', ['-tv', '--numeric-owner', '--full-time', '-f', path.join(tmp, 'a.tar')], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } });
    expect(t.status, t.stderr).toBe(0);
    const rows = t.stdout.trim().split('\n');
    const names = rows.map((r) => r.split(/\s+/).slice(5).join(' ').replace(/ -> .*$/, '').replace(/\/$/, ''));
    expect(names).toEqual([...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))));
    expect(names).toContain('usr'); // parents are implied
    expect(names).toContain('deep');
    for (const r of rows) {
      expect(r).toMatch(/^\S+ 0\/0 /);
      expect(r).toContain('1970-01-01 00:00:00');
    }
    expect(rows.find((r) => r.endsWith('usr/bin/node'))).toMatch(/^-rwxr-xr-x/);
    expect(rows.find((r) => r.endsWith('etc/passwd'))).toMatch(/^-rw-r--r--/);
    expect(rows.find((r) => / tmp\/$/.test(r))).toMatch(/^drwxrwxrwt/);
  });

  it('long names and link targets survive extraction by GNU tar', () => {
    const out = path.join(tmp, 'x');
    fs.mkdirSync(out);
    const x = spawnSync('tar', ['-x', '-C', out, '-f', path.join(tmp, 'a.tar')], { encoding: 'utf8' });
    expect(x.status, x.stderr).toBe(0);
    expect(fs.readFileSync(path.join(out, long), 'utf8')).toBe('long');
    expect(fs.readFileSync(path.join(out, huge))).toEqual(Buffer.alloc(700, 7));
    expect(fs.readlinkSync(path.join(out, 'ln-long'))).toBe(`/${'t'.repeat(150)}`);
    expect(fs.readlinkSync(path.join(out, 'lib'))).toBe('usr/lib');
  });

  it('refuses paths that escape, repeat, or put a file where a directory must be', () => {
    expect(() => writeTar([{ path: '../etc/shadow', type: 'file', data: Buffer.alloc(0) }])).toThrow(TarError);
    expect(() => writeTar([{ path: 'a', type: 'file', data: Buffer.alloc(0) }, { path: 'a', type: 'file', data: Buffer.alloc(1) }])).toThrow(/twice/);
    expect(() => writeTar([{ path: 'lib', type: 'symlink', target: 'usr/lib' }, { path: 'lib/x.so', type: 'file', data: Buffer.alloc(0) }])).toThrow(/is a symlink/);
  });
});

const kinds = { Namespace, DaemonSet, Service, PodMonitor, ServiceMonitor } as const;
type Doc = { kind: keyof typeof kinds; [k: string]: unknown };
const validate = (d: Doc) => new kinds[d.kind](d as never).validate();

function k8sCli(args: string[]): Doc[] {
  const r = runCli(['k8s', ...args]);
  expect(r.status, r.stderr).toBe(0);
  return parseAllDocuments(r.stdout).map((d) => d.toJS() as Doc);
}

describe('Kubernetes manifests', () => {
  it('bee-ts k8s: Namespace, DaemonSet, Service and PodMonitor, each valid against its API schema', () => {
    const docs = k8sCli(['registry.example.com/team/tcpconnect:v1']);
    expect(docs.map((d) => d.kind)).toEqual(['Namespace', 'DaemonSet', 'Service', 'PodMonitor']);
    for (const d of docs) validate(d);
    const ds = docs[1] as unknown as { metadata: { name: string; namespace: string }; spec: { template: { spec: Record<string, any> } } };
    expect(ds.metadata).toMatchObject({ name: 'tcpconnect', namespace: 'bee-ts' });
    const pod = ds.spec.template.spec;
    const c = pod.containers[0];
    expect(c.image).toBe('registry.example.com/team/tcpconnect:v1');
    expect(c.securityContext).toEqual({ privileged: true });
    expect(c.ports).toEqual([{ name: 'metrics', containerPort: 9091, protocol: 'TCP' }]);
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
    expect(c.resources.requests).toBeDefined();
    expect(pod.volumes.map((v: { hostPath: { path: string } }) => v.hostPath.path)).toEqual(['/sys/fs/bpf', '/sys/kernel/tracing', '/sys/kernel/debug']);
    expect(c.volumeMounts.map((v: { mountPath: string }) => v.mountPath)).toEqual(['/sys/fs/bpf', '/sys/kernel/tracing', '/sys/kernel/debug']);
    expect(pod.hostPID).toBe(false);
    const pm = docs[3] as unknown as { spec: { selector: { matchLabels: Record<string, string> }; podMetricsEndpoints: { port: string }[] } };
    expect(pm.spec.selector.matchLabels).toEqual((ds as unknown as { spec: { selector: { matchLabels: object } } }).spec.selector.matchLabels);
    expect(pm.spec.podMetricsEndpoints[0]!.port).toBe('metrics');
  });

  it('--no-privileged gives capabilities instead; --monitor service a ServiceMonitor; --prom-port moves every port', () => {
    const docs = k8sCli(['r.example/p:1', '--no-privileged', '--monitor', 'service', '--prom-port', '9500', '--namespace', 'probes', '--name', 'edge', '--host-pid']);
    expect(docs.map((d) => d.kind)).toEqual(['Namespace', 'DaemonSet', 'Service', 'ServiceMonitor']);
    for (const d of docs) validate(d);
    const pod = (docs[1] as any).spec.template.spec;
    expect(pod.containers[0].securityContext.privileged).toBe(false);
    expect(pod.containers[0].securityContext.capabilities.add).toEqual(['BPF', 'PERFMON', 'SYS_ADMIN', 'SYS_RESOURCE', 'NET_ADMIN']);
    expect(pod.containers[0].ports[0].containerPort).toBe(9500);
    expect(pod.hostPID).toBe(true);
    expect((docs[2] as any).spec.ports[0].port).toBe(9500);
    expect((docs[1] as any).metadata).toMatchObject({ name: 'edge', namespace: 'probes' });
    expect(k8sCli(['r.example/p:1', '--monitor', 'none']).map((d) => d.kind)).toEqual(['Namespace', 'DaemonSet', 'Service']);
  });

  it('the validators do reject a broken manifest (the check can fail)', () => {
    const ds = structuredClone(k8sManifests({ image: 'r/p:1', name: 'p', namespace: 'n', metricsPort: 9091, privileged: true, hostPID: false, monitor: 'pod' })[1]) as any;
    ds.spec.template.spec.containers[0].ports[0].containerPort = 'ninety';
    expect(() => new DaemonSet(ds).validate()).toThrow(/containerPort/);
    delete ds.spec.selector;
    expect(() => new DaemonSet(ds).validate()).toThrow(/selector/);
    const pm = k8sManifests({ image: 'r/p:1', name: 'p', namespace: 'n', metricsPort: 9091, privileged: true, hostPID: false, monitor: 'pod' })[3] as any;
    pm.spec.podMetricsEndpoints[0].scheme = 'gopher';
    expect(() => new PodMonitor(pm).validate()).toThrow();
  });

  it('bad flags are usage errors', () => {
    const r = runCli(['k8s', 'r.example/p:1', '--monitor', 'carrier-pigeon']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--monitor');
    const p = runCli(['k8s', 'r.example/p:1', '--prom-port', '70000']);
    expect(p.status).toBe(2);
    expect(p.stderr).toContain('--prom-port');
  });

  it('package: a missing probe, a bad reference or an unreachable base registry fail with one clear line, writing nothing', async () => {
    const closed = await freePort();
    const out = path.join(tmp, 'never.tar');
    const missing = runCli(['package', path.join(tmp, 'nope.o'), 'localhost/x:1', '--oci-archive', out]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/nope\.o: no such file/);
    const badRef = runCli(['package', path.join(root, 'examples', 'tcpconnect.o'), 'Bad Ref!', '--oci-archive', out]);
    expect(badRef.status).not.toBe(0);
    expect(badRef.stderr).toMatch(/^Error: .*Bad Ref!/m);
    const base = runCli(['--plain-http', 'package', path.join(root, 'examples', 'tcpconnect.o'), 'localhost/x:1', '--base', `127.0.0.1:${closed}/base:1`, '--oci-archive', out]);
    expect(base.status).not.toBe(0);
    expect(base.stderr).toMatch(new RegExp(`^Error: 127\\.0\\.0\\.1:${closed}/base:1: cannot reach .*is the registry running`, 'm'));
    // A probe `bee-ts run` would refuse (bee map markers that disagree) is refused before any image is built.
    const conflict = runCli(['package', fixture('bad_role.bpfel.o'), 'localhost/x:1', '--oci-archive', out]);
    expect(conflict.status).not.toBe(0);
    expect(conflict.stderr).toMatch(/^Error: .*bad_role\.bpfel\.o: map 'counter_conflict': name prefix says 'counter' but section \.maps\.print says 'print'/m);
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.readdirSync(tmp).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('hostPID follows the probe: on for uprobe and USDT programs, off for tracepoints', () => {
    const hostPid = (file: string) => wantsHostPid(parseObject(fs.readFileSync(file), { file }));
    expect(hostPid(fixture('usdt.bpfel.o'))).toBe(true);
    expect(hostPid(fixture('uprobe_multi.bpfel.o'))).toBe(true);
    expect(hostPid(path.join(root, 'examples', 'tcpconnect.o'))).toBe(false);
  });

  it('YAML output reads back as the same objects (quoting of strings YAML would misread)', () => {
    const tricky = { a: 'yes', b: '123', c: 'x: y', d: '', e: '#hash', f: 'two\nlines', g: 'null', h: ['- dash', 'ok'], i: {}, j: [], k: [{ l: 1, m: [true, 'false'] }], 'weird key': 'v', n: 'registry:5000/x:1' };
    expect(parse(toYaml(tricky))).toEqual(tricky);
    for (const o of k8sManifests({ image: 'r:5000/p:1', name: 'p', namespace: 'n', metricsPort: 9091, privileged: false, hostPID: true, monitor: 'service' })) expect(parse(toYaml(o))).toEqual(o);
  });
});
