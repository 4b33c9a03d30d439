'use strict';
/* validate.js - check deploy/k8s/*.yaml without a cluster.
 *
 *   node tests/deploy/k8s/validate.js [dir] [--write-configmaps out]
 *       dir: default deploy/k8s; with --write-configmaps, every ConfigMap's
 *       data is also written to out/<name>/<key> (k8s_test.sh runs the
 *       start scripts from there)
 *
 * 1. Every document parses as YAML and is an object of a known apiVersion and
 *    kind, validated against that type's schema from the Kubernetes OpenAPI
 *    definitions (kubernetes-models, pinned in package-lock.json): required
 *    fields, types, enums and formats.
 * 2. The objects fit together the way Comet needs: every selector matches its
 *    pod template's labels; every StatefulSet names a headless Service of its
 *    own whose selector picks its pods and whose targetPorts are container
 *    ports; every ConfigMap volume names a ConfigMap in the set; every -c
 *    settings file is under a mounted volume; a container that runs
 *    `sh <script>` finds the script as a key of the ConfigMap mounted there,
 *    and every environment variable the script reads without setting it is
 *    in the container's env; every probe runs comet-healthcheck; each broker
 *    group has a PVC template mounted at /var/lib/comet; every
 *    PodDisruptionBudget selects the pods of one workload here; the pods run
 *    as the image's unprivileged user.
 * Exit 0 with a summary, 1 with every problem found. Not checked: anything
 * that needs a real API server (admission, unknown fields, quota, storage
 * classes, image pulls, scheduling) - see the README's Kubernetes section. */
const fs = require('fs');
const path = require('path');
const YAML = require('yaml');

const argv = process.argv.slice(2);
const wi = argv.indexOf('--write-configmaps');
const writeTo = wi >= 0 ? argv.splice(wi, 2)[1] : null;
const dir = path.resolve(argv[0] || path.join(__dirname, '../../../deploy/k8s'));
const MODELS = {
  'apps/v1/Deployment': 'kubernetes-models/apps/v1/Deployment',
  'apps/v1/StatefulSet': 'kubernetes-models/apps/v1/StatefulSet',
  'v1/Service': 'kubernetes-models/v1/Service',
  'v1/ConfigMap': 'kubernetes-models/v1/ConfigMap',
  'policy/v1/PodDisruptionBudget': 'kubernetes-models/policy/v1/PodDisruptionBudget',
};
const problems = [];
const objs = [];

for (const f of fs.readdirSync(dir).filter(n => /\.ya?ml$/.test(n)).sort()) {
  const docs = YAML.parseAllDocuments(fs.readFileSync(path.join(dir, f), 'utf8'));
  docs.forEach((d, i) => {
    const where = `${f}#${i + 1}`;
    if (d.errors.length) return problems.push(`${where}: ${d.errors.map(e => e.message).join('; ')}`);
    const o = d.toJS();
    if (!o) return;
    const key = `${o.apiVersion}/${o.kind}`;
    if (!MODELS[key]) return problems.push(`${where}: unexpected ${key}`);
    const Model = Object.values(require(MODELS[key])).find(v => typeof v === 'function');
    try {
      new Model(o).validate();
    } catch (e) {
      problems.push(`${where} (${o.kind} ${o.metadata && o.metadata.name}): ${e.message}`);
    }
    objs.push({ where, o });
  });
}

const byKind = k => objs.filter(x => x.o.kind === k);
const find = (k, name) => objs.find(x => x.o.kind === k && x.o.metadata.name === name);
const matches = (sel, labels) => Object.entries(sel || {}).every(([ k, v ]) => labels && labels[k] === v);

for (const { where, o } of [ ...byKind('Deployment'), ...byKind('StatefulSet') ]) {
  const tpl = o.spec.template;
  if (!matches(o.spec.selector.matchLabels, tpl.metadata.labels)) {
    problems.push(`${where}: selector does not match the pod template's labels`);
  }
  const pod = tpl.spec;
  const sc = pod.securityContext || {};
  if (sc.runAsUser !== 10001 || sc.runAsNonRoot !== true || sc.fsGroup !== 10001) {
    problems.push(`${where}: pods must run as uid 10001 (the image's user comet) with fsGroup 10001`);
  }
  const claims = (o.spec.volumeClaimTemplates || []).map(v => v.metadata.name);
  const volumes = new Map((pod.volumes || []).map(v => [ v.name, v ]));
  for (const c of pod.containers) {
    const mounts = c.volumeMounts || [];
    for (const m of mounts) {
      if (!volumes.has(m.name) && !claims.includes(m.name)) problems.push(`${where}: mount ${m.name} has no volume`);
    }
    const args = c.args || c.command || [];
    args.forEach((a, i) => {
      if (a !== '-c') return;
      const file = args[i + 1] || '';
      const inImage = file.startsWith('/etc/comet/');
      if (!inImage && !mounts.some(m => file.startsWith(m.mountPath + '/'))) {
        problems.push(`${where}: settings file ${file} is neither in the image nor under a mount`);
      }
    });
    if (args[0] === 'sh' && args.length === 2) {
      const file = args[1];
      const m = mounts.find(x => file.startsWith(x.mountPath + '/'));
      const vol = m && volumes.get(m.name);
      const cm = vol && vol.configMap && find('ConfigMap', vol.configMap.name);
      const script = cm && (cm.o.data || {})[file.slice(m.mountPath.length + 1)];
      if (!script) {
        problems.push(`${where}: script ${file} is not a key of a ConfigMap mounted at its folder`);
      } else {
        const set = new Set([ ...script.matchAll(/^\s*([A-Za-z_][A-Za-z0-9_]*)=/gm) ].map(x => x[1]));
        const read = new Set([ ...script.matchAll(/\$\{?([A-Z][A-Z0-9_]*)/g) ].map(x => x[1]));
        for (const v of read) {
          if (!set.has(v) && !(c.env || []).some(e => e.name === v)) {
            problems.push(`${where}: ${file} reads $${v}, which is not in ${c.name}'s env`);
          }
        }
      }
    }
    for (const m of (args.join(' ').match(/\$\(([A-Z_]+)\)/g) || [])) {
      const v = m.slice(2, -1);
      if (!(c.env || []).some(e => e.name === v)) problems.push(`${where}: ${m} in args but no env ${v}`);
    }
    for (const p of [ 'readinessProbe', 'livenessProbe' ]) {
      const cmd = c[p] && c[p].exec && c[p].exec.command;
      if (!cmd || cmd[0] !== 'comet-healthcheck') problems.push(`${where}: ${c.name} ${p} must run comet-healthcheck`);
    }
  }
  for (const v of volumes.values()) {
    if (v.configMap && !find('ConfigMap', v.configMap.name)) {
      problems.push(`${where}: volume ${v.name} names ConfigMap ${v.configMap.name}, not in ${dir}`);
    }
  }
  if (o.kind === 'StatefulSet') {
    const svc = find('Service', o.spec.serviceName);
    if (!svc) {
      problems.push(`${where}: serviceName ${o.spec.serviceName} is not a Service in ${dir}`);
    } else {
      if (svc.o.spec.clusterIP !== 'None') problems.push(`${svc.where}: the Service of a StatefulSet must be headless`);
      if (!matches(svc.o.spec.selector, tpl.metadata.labels)) {
        problems.push(`${svc.where}: selector does not pick ${o.metadata.name}'s pods`);
      }
      const named = pod.containers.flatMap(c => (c.ports || []).map(p => p.name));
      for (const p of svc.o.spec.ports) {
        if (typeof p.targetPort === 'string' && !named.includes(p.targetPort)) {
          problems.push(`${svc.where}: targetPort ${p.targetPort} is not a port of ${o.metadata.name}`);
        }
      }
    }
    const store = pod.containers[0].volumeMounts.find(m => m.mountPath === '/var/lib/comet');
    if (!store || !claims.includes(store.name)) {
      problems.push(`${where}: /var/lib/comet must be a PersistentVolumeClaim template`);
    }
  }
}
for (const { where, o } of byKind('PodDisruptionBudget')) {
  const picked = objs.filter(x => (x.o.kind === 'Deployment' || x.o.kind === 'StatefulSet') &&
                                  matches(o.spec.selector.matchLabels, x.o.spec.template.metadata.labels));
  if (picked.length !== 1) {
    problems.push(`${where}: PodDisruptionBudget ${o.metadata.name} selects the pods of ${picked.length} workloads (want 1)`);
  }
}
for (const { where, o } of byKind('Service')) {
  if (!objs.some(x => (x.o.kind === 'Deployment' || x.o.kind === 'StatefulSet') &&
                      matches(o.spec.selector, x.o.spec.template.metadata.labels))) {
    problems.push(`${where}: Service ${o.metadata.name} selects no pods of this set`);
  }
}

if (problems.length) {
  console.error(`k8s manifests in ${dir}: ${problems.length} problem(s):\n  ` + problems.join('\n  '));
  process.exit(1);
}
if (writeTo) {
  for (const { o } of byKind('ConfigMap')) {
    fs.mkdirSync(path.join(writeTo, o.metadata.name), { recursive: true });
    for (const [ k, v ] of Object.entries(o.data || {})) fs.writeFileSync(path.join(writeTo, o.metadata.name, k), v);
  }
}
const count = k => byKind(k).length;
console.log(`k8s manifests OK: ${objs.length} objects (${count('Deployment')} Deployment, ${count('StatefulSet')} ` +
            `StatefulSet, ${count('Service')} Service, ${count('ConfigMap')} ConfigMap, ` +
            `${count('PodDisruptionBudget')} PodDisruptionBudget) valid against the ` +
            'Kubernetes schemas and consistent with each other');
