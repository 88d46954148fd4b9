// Kubernetes manifests for a packaged probe (`bee-ts package --k8s`, `bee-ts k8s`): a Namespace,
// a DaemonSet that runs the image on every node (privileged, or only the capabilities eBPF
// needs; bpffs, tracefs and debugfs from the host; the host's pid namespace for probes of host
// processes; resource requests; liveness and readiness on the metrics server's /healthz and
// /readyz), a headless Service for the metrics port, and a prometheus-operator PodMonitor or
// ServiceMonitor. Plain objects here, and a small YAML writer for them.
// Type-only imports (dev dependencies, erased at build): the literals below are checked against
// the Kubernetes and prometheus-operator API types, unknown fields included (`satisfies`).
import type { IPodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import type { IServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import type { IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import type { INamespace } from 'kubernetes-models/v1/Namespace';
import type { ISecurityContext } from 'kubernetes-models/v1/SecurityContext';
import type { IService } from 'kubernetes-models/v1/Service';

export interface K8sOptions {
  image: string;
  name: string;
  namespace: string;
  metricsPort: number;
  /** true: privileged; false: CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN, CAP_SYS_RESOURCE, CAP_NET_ADMIN. */
  privileged: boolean;
  hostPID: boolean;
  monitor: 'pod' | 'service' | 'none';
  scrapeInterval?: string;
}

export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [k: string]: unknown };

/** The capabilities an unprivileged probe container gets (loading, attaching, tracefs, TC/XDP, memlock). */
export const PROBE_CAPABILITIES = ['BPF', 'PERFMON', 'SYS_ADMIN', 'SYS_RESOURCE', 'NET_ADMIN'];

const HOST_MOUNTS = [
  { name: 'bpffs', path: '/sys/fs/bpf' },
  { name: 'tracefs', path: '/sys/kernel/tracing' },
  { name: 'debugfs', path: '/sys/kernel/debug' },
];

export function k8sManifests(o: K8sOptions): K8sObject[] {
  const name = o.name.toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+|-+$/g, '').slice(0, 63) || 'bee-ts-probe';
  const selector = { 'app.kubernetes.io/name': name };
  const labels = { ...selector, 'app.kubernetes.io/component': 'ebpf-probe', 'app.kubernetes.io/managed-by': 'bee-ts' };
  const meta = (n: string) => ({ name: n, namespace: o.namespace, labels });
  const securityContext: ISecurityContext = o.privileged
    ? { privileged: true }
    : { privileged: false, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'], add: PROBE_CAPABILITIES }, seccompProfile: { type: 'Unconfined' }, appArmorProfile: { type: 'Unconfined' } };
  const out: K8sObject[] = [
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      // eBPF probes need privileges the restricted and baseline Pod Security levels refuse.
      metadata: { name: o.namespace, labels: { 'pod-security.kubernetes.io/enforce': 'privileged' } },
    } satisfies INamespace,
    {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: meta(name),
      spec: {
        selector: { matchLabels: selector },
        updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
        template: {
          metadata: { labels },
          spec: {
            hostPID: o.hostPID,
            // Every node, control plane included: a probe watches the node it runs on.
            tolerations: [{ operator: 'Exists' }],
            terminationGracePeriodSeconds: 30,
            containers: [
              {
                name: 'probe',
                image: o.image,
                imagePullPolicy: 'IfNotPresent',
                ports: [{ name: 'metrics', containerPort: o.metricsPort, protocol: 'TCP' }],
                securityContext,
                resources: { requests: { cpu: '50m', memory: '96Mi' }, limits: { memory: '512Mi' } },
                livenessProbe: { httpGet: { path: '/healthz', port: 'metrics' }, initialDelaySeconds: 10, periodSeconds: 10, failureThreshold: 3 },
                readinessProbe: { httpGet: { path: '/readyz', port: 'metrics' }, periodSeconds: 5, failureThreshold: 2 },
                volumeMounts: HOST_MOUNTS.map((m) => ({ name: m.name, mountPath: m.path, ...(m.name === 'bpffs' ? { mountPropagation: o.privileged ? 'Bidirectional' : 'HostToContainer' } : {}) })),
              },
            ],
            volumes: HOST_MOUNTS.map((m) => ({ name: m.name, hostPath: { path: m.path, type: 'Directory' } })),
          },
        },
      },
    } satisfies IDaemonSet,
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(name),
      spec: { clusterIP: 'None', selector, ports: [{ name: 'metrics', port: o.metricsPort, targetPort: 'metrics', protocol: 'TCP' }] },
    } satisfies IService,
  ];
  const interval = o.scrapeInterval ?? '15s';
  if (o.monitor === 'pod')
    out.push({ apiVersion: 'monitoring.coreos.com/v1', kind: 'PodMonitor', metadata: meta(name), spec: { selector: { matchLabels: selector }, podMetricsEndpoints: [{ port: 'metrics', path: '/metrics', interval }] } } satisfies IPodMonitor);
  else if (o.monitor === 'service')
    out.push({ apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', metadata: meta(name), spec: { selector: { matchLabels: selector }, endpoints: [{ port: 'metrics', path: '/metrics', interval }] } } satisfies IServiceMonitor);
  return out;
}

const PLAIN = /^[A-Za-z_/][A-Za-z0-9_./-]*$/;
const RESERVED = /^(true|false|yes|no|on|off|y|n|null|~)$/i;

function scalar(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  const s = String(v);
  return PLAIN.test(s) && !RESERVED.test(s) ? s : JSON.stringify(s);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function lines(v: unknown, indent: string): string[] {
  if (Array.isArray(v)) {
    if (v.length === 0) return [`${indent}[]`];
    const out: string[] = [];
    for (const item of v) {
      const inner = isObject(item) || Array.isArray(item) ? lines(item, `${indent}  `) : [`${indent}  ${scalar(item)}`];
      out.push(`${indent}- ${inner[0]!.slice(indent.length + 2)}`, ...inner.slice(1));
    }
    return out;
  }
  if (isObject(v)) {
    const keys = Object.keys(v).filter((k) => v[k] !== undefined);
    if (keys.length === 0) return [`${indent}{}`];
    const out: string[] = [];
    for (const k of keys) {
      const x = v[k];
      const key = scalar(k);
      if ((isObject(x) && Object.keys(x).length) || (Array.isArray(x) && x.length)) out.push(`${indent}${key}:`, ...lines(x, Array.isArray(x) ? indent : `${indent}  `));
      else out.push(`${indent}${key}: ${isObject(x) ? '{}' : Array.isArray(x) ? '[]' : scalar(x)}`);
    }
    return out;
  }
  return [`${indent}${scalar(v)}`];
}

/** One YAML document (block style; strings quoted when a plain scalar could misread them). */
export function toYaml(doc: unknown): string {
  return lines(doc, '').join('\n') + '\n';
}
