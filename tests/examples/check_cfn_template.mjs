// Validates examples/aws/template.yaml offline:
//   1. it parses as YAML with the CloudFormation short-form tags (!Ref,
//      !GetAtt, !Sub, !If, ...), duplicate keys refused;
//   2. every Ref, GetAtt, Sub variable, condition name, DependsOn and
//      FindInMap resolves to a parameter, resource, attribute, condition,
//      mapping or pseudo parameter, and a conditional resource is only
//      referenced where its condition holds;
//   3. every resource type, property name, required property and value type
//      is checked against the CloudFormation resource specification shipped
//      in the npm package @aws-cdk/cfnspec;
//   4. the template meets the deployment requirements of the project (API
//      shape and limits, runtime and network, table settings, endpoints,
//      least-privilege IAM, data keys wrapped by KMS, alarms), evaluated with
//      the parameter defaults.
//
// Usage: node check_cfn_template.mjs TEMPLATE.yaml
//        node check_cfn_template.mjs --self-test TEMPLATE.yaml
// The self test breaks copies of the template in known ways and requires each
// break to be reported, so the checks cannot pass vacuously.
import fs from 'node:fs';
import process from 'node:process';

import { loadDeps } from './deps.mjs';

const deps = loadDeps(['js-yaml', '@aws-cdk/cfnspec']);
const yaml = deps['js-yaml'];
const SPEC = JSON.parse(fs.readFileSync(
  new URL('node_modules/@aws-cdk/cfnspec/spec/specification.json',
          `file://${process.env.GDA_EXAMPLES_DEPS}/`), 'utf8'));

const PSEUDO = new Set(['AWS::AccountId', 'AWS::NotificationARNs', 'AWS::NoValue',
  'AWS::Partition', 'AWS::Region', 'AWS::StackId', 'AWS::StackName', 'AWS::URLSuffix']);
const TOP_LEVEL = new Set(['AWSTemplateFormatVersion', 'Description', 'Metadata', 'Parameters',
  'Mappings', 'Conditions', 'Transform', 'Resources', 'Outputs', 'Rules']);
const RESOURCE_KEYS = new Set(['Type', 'Properties', 'DependsOn', 'Condition', 'DeletionPolicy',
  'UpdateReplacePolicy', 'Metadata', 'CreationPolicy', 'UpdatePolicy']);
const PARAM_TYPES = /^(String|Number|List<Number>|CommaDelimitedList|AWS::[A-Za-z0-9:]+|List<AWS::[A-Za-z0-9:]+>|AWS::SSM::Parameter::Value<.+>)$/;
const CONDITION_FNS = new Set(['Fn::Equals', 'Fn::And', 'Fn::Or', 'Fn::Not', 'Condition']);

// ---- 1. YAML with CloudFormation tags ----------------------------------

function cfnSchema() {
  const types = [];
  const fns = ['Base64', 'Cidr', 'FindInMap', 'GetAZs', 'ImportValue', 'Join', 'Select',
    'Split', 'Sub', 'Transform', 'If', 'Equals', 'And', 'Or', 'Not', 'Length', 'ToJsonString'];
  for (const kind of ['scalar', 'sequence', 'mapping']) {
    for (const fn of fns) {
      types.push(new yaml.Type(`!${fn}`, { kind, construct: (d) => ({ [`Fn::${fn}`]: d }) }));
    }
    types.push(new yaml.Type('!GetAtt', {
      kind,
      construct: (d) => {
        if (typeof d === 'string') {
          const dot = d.indexOf('.');
          return { 'Fn::GetAtt': dot < 0 ? [d] : [d.slice(0, dot), d.slice(dot + 1)] };
        }
        return { 'Fn::GetAtt': d };
      },
    }));
  }
  types.push(new yaml.Type('!Ref', { kind: 'scalar', construct: (d) => ({ Ref: d }) }));
  types.push(new yaml.Type('!Condition', { kind: 'scalar', construct: (d) => ({ Condition: d }) }));
  return yaml.DEFAULT_SCHEMA.extend(types);
}

export function parseTemplate(text) {
  return yaml.load(text, { schema: cfnSchema() });
}

// ---- 2 + 3. references and the resource specification -----------------

function isIntrinsic(v) {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return false;
  const keys = Object.keys(v);
  return keys.length === 1 && (keys[0] === 'Ref' || keys[0].startsWith('Fn::') ||
                               keys[0] === 'Condition');
}

function propertySpec(resourceType, typeName) {
  return SPEC.PropertyTypes[`${resourceType}.${typeName}`] ?? SPEC.PropertyTypes[typeName];
}

class Checker {
  constructor(t) {
    this.t = t;
    this.errors = [];
    this.params = t.Parameters ?? {};
    this.resources = t.Resources ?? {};
    this.conditions = t.Conditions ?? {};
    this.mappings = t.Mappings ?? {};
  }

  err(where, msg) {
    this.errors.push(`${where}: ${msg}`);
  }

  // A reference to a resource with a Condition is only valid where that
  // condition is known to hold (the referrer's own condition, or the true
  // branch of an Fn::If on it).
  checkTarget(where, name, active) {
    if (PSEUDO.has(name) || name in this.params) return true;
    const r = this.resources[name];
    if (!r) {
      this.err(where, `reference to ${name}, which is no parameter, resource or pseudo parameter`);
      return false;
    }
    if (r.Condition && !active.has(r.Condition)) {
      this.err(where, `${name} exists only when ${r.Condition} holds, but is referenced ` +
               'outside a matching condition');
    }
    return true;
  }

  checkGetAtt(where, resName, attr, active) {
    if (!this.checkTarget(where, resName, active)) return;
    const r = this.resources[resName];
    if (!r) {
      this.err(where, `GetAtt on ${resName}, which is not a resource`);
      return;
    }
    const spec = SPEC.ResourceTypes[r.Type];
    if (!spec || r.Type.startsWith('Custom::')) return;
    if (!(spec.Attributes && attr in spec.Attributes)) {
      this.err(where, `${r.Type} has no attribute ${attr} (has: ` +
               `${Object.keys(spec.Attributes ?? {}).join(', ') || 'none'})`);
    }
  }

  checkCondName(where, name) {
    if (!(name in this.conditions)) this.err(where, `unknown condition ${name}`);
  }

  // Walks any value; validates every intrinsic inside it.
  walk(where, v, active) {
    if (Array.isArray(v)) {
      v.forEach((x, i) => this.walk(`${where}[${i}]`, x, active));
      return;
    }
    if (!v || typeof v !== 'object') return;
    if (!isIntrinsic(v)) {
      for (const [k, x] of Object.entries(v)) this.walk(`${where}.${k}`, x, active);
      return;
    }
    const [fn] = Object.keys(v);
    const a = v[fn];
    switch (fn) {
      case 'Ref':
        if (typeof a !== 'string') this.err(where, 'Ref takes a name');
        else this.checkTarget(where, a, active);
        break;
      case 'Fn::GetAtt':
        if (!Array.isArray(a) || a.length !== 2 || typeof a[0] !== 'string') {
          this.err(where, 'Fn::GetAtt takes [resource, attribute]');
        } else if (typeof a[1] === 'string') {
          this.checkGetAtt(where, a[0], a[1], active);
        }
        break;
      case 'Fn::Sub': {
        const [text, vars] = Array.isArray(a) ? a : [a, {}];
        if (typeof text !== 'string') {
          this.err(where, 'Fn::Sub takes a string');
          break;
        }
        for (const [name, x] of Object.entries(vars ?? {})) this.walk(`${where}.${name}`, x, active);
        for (const m of text.matchAll(/\$\{([^}]*)\}/g)) {
          const ref = m[1].trim();
          if (ref.startsWith('!') || (vars && ref in vars)) continue;
          const dot = ref.indexOf('.');
          if (dot > 0 && !PSEUDO.has(ref)) this.checkGetAtt(where, ref.slice(0, dot), ref.slice(dot + 1), active);
          else this.checkTarget(where, ref, active);
        }
        break;
      }
      case 'Fn::If': {
        if (!Array.isArray(a) || a.length !== 3 || typeof a[0] !== 'string') {
          this.err(where, 'Fn::If takes [condition, then, else]');
          break;
        }
        this.checkCondName(where, a[0]);
        this.walk(`${where}<then>`, a[1], new Set([...active, a[0]]));
        this.walk(`${where}<else>`, a[2], active);
        break;
      }
      case 'Condition':
        this.checkCondName(where, a);
        break;
      case 'Fn::FindInMap':
        if (!Array.isArray(a) || a.length !== 3) this.err(where, 'Fn::FindInMap takes 3 arguments');
        else if (typeof a[0] === 'string' && !(a[0] in this.mappings)) {
          this.err(where, `unknown mapping ${a[0]}`);
        }
        this.walk(where, a, active);
        break;
      case 'Fn::Join':
        if (!Array.isArray(a) || a.length !== 2 || typeof a[0] !== 'string') {
          this.err(where, 'Fn::Join takes [delimiter, list]');
        }
        this.walk(where, a, active);
        break;
      case 'Fn::Equals':
        if (!Array.isArray(a) || a.length !== 2) this.err(where, 'Fn::Equals takes 2 values');
        this.walk(where, a, active);
        break;
      case 'Fn::And': case 'Fn::Or':
        if (!Array.isArray(a) || a.length < 2 || a.length > 10) {
          this.err(where, `${fn} takes 2 to 10 conditions`);
        }
        this.walk(where, a, active);
        break;
      case 'Fn::Not':
        if (!Array.isArray(a) || a.length !== 1) this.err(where, 'Fn::Not takes 1 condition');
        this.walk(where, a, active);
        break;
      case 'Fn::Base64': case 'Fn::Cidr': case 'Fn::GetAZs': case 'Fn::ImportValue':
      case 'Fn::Select': case 'Fn::Split': case 'Fn::Length': case 'Fn::ToJsonString':
        this.walk(where, a, active);
        break;
      default:
        this.err(where, `unknown intrinsic function ${fn}`);
    }
  }

  // What an intrinsic produces, for type checks: 'string', 'list' or 'any'.
  intrinsicKind(v) {
    const [fn] = Object.keys(v);
    if (fn === 'Ref') {
      const p = this.params[v.Ref];
      if (p && /^(List<|CommaDelimitedList)/.test(p.Type)) return 'list';
      return 'string';
    }
    if (fn === 'Fn::GetAZs' || fn === 'Fn::Split' || fn === 'Fn::Cidr') return 'list';
    if (fn === 'Fn::Join' || fn === 'Fn::Sub' || fn === 'Fn::Base64') return 'string';
    return 'any';
  }

  // Checks value v against a property spec p of a resource of type rtype.
  checkValue(where, rtype, p, v) {
    if (isIntrinsic(v)) {
      const [fn] = Object.keys(v);
      if (fn === 'Fn::If' && Array.isArray(v[fn]) && v[fn].length === 3) {
        for (const branch of [v[fn][1], v[fn][2]]) {
          if (!(isIntrinsic(branch) && branch.Ref === 'AWS::NoValue')) {
            this.checkValue(where, rtype, p, branch);
          }
        }
        return;
      }
      const kind = this.intrinsicKind(v);
      const wantsList = p.Type === 'List';
      if ((kind === 'list' && !wantsList) || (kind === 'string' && wantsList)) {
        this.err(where, `${fn} gives a ${kind}, the property wants ${wantsList ? 'a list' : 'a scalar'}`);
      }
      if (kind === 'string' && (p.Type && p.Type !== 'List' && p.Type !== 'Map')) {
        this.err(where, `${fn} gives a string, the property wants a ${p.Type} object`);
      }
      return;
    }
    if (p.PrimitiveType) {
      this.checkPrimitive(where, p.PrimitiveType, v);
    } else if (p.Type === 'List') {
      if (!Array.isArray(v)) {
        this.err(where, 'must be a list');
        return;
      }
      v.forEach((x, i) => {
        const item = p.PrimitiveItemType ? { PrimitiveType: p.PrimitiveItemType } : { Type: p.ItemType };
        this.checkValue(`${where}[${i}]`, rtype, item, x);
      });
    } else if (p.Type === 'Map') {
      if (!v || typeof v !== 'object' || Array.isArray(v)) {
        this.err(where, 'must be a map');
        return;
      }
      for (const [k, x] of Object.entries(v)) {
        const item = p.PrimitiveItemType ? { PrimitiveType: p.PrimitiveItemType } : { Type: p.ItemType };
        this.checkValue(`${where}.${k}`, rtype, item, x);
      }
    } else if (p.Type) {
      const ps = propertySpec(rtype, p.Type);
      if (!ps) {
        this.err(where, `specification has no property type ${rtype}.${p.Type}`);
        return;
      }
      if (ps.PrimitiveType) {
        this.checkPrimitive(where, ps.PrimitiveType, v);
        return;
      }
      this.checkProperties(where, rtype, ps.Properties ?? {}, v);
    }
  }

  checkPrimitive(where, type, v) {
    const numeric = (x) => typeof x === 'number' || (typeof x === 'string' && /^-?\d+(\.\d+)?$/.test(x));
    const ok = {
      String: () => ['string', 'number', 'boolean'].includes(typeof v),
      Integer: () => numeric(v) && Number.isInteger(Number(v)),
      Long: () => numeric(v) && Number.isInteger(Number(v)),
      Double: () => numeric(v),
      Boolean: () => typeof v === 'boolean' || v === 'true' || v === 'false',
      Json: () => (v && typeof v === 'object') || typeof v === 'string',
      Timestamp: () => typeof v === 'string',
    }[type];
    if (!ok) this.err(where, `unknown primitive type ${type}`);
    else if (!ok()) this.err(where, `${JSON.stringify(v)} is not a ${type}`);
  }

  checkProperties(where, rtype, specProps, props) {
    if (!props || typeof props !== 'object' || Array.isArray(props)) {
      this.err(where, 'must be an object of properties');
      return;
    }
    for (const [name, v] of Object.entries(props)) {
      const p = specProps[name];
      if (!p) {
        this.err(`${where}.${name}`, `${rtype} has no such property in the specification`);
        continue;
      }
      this.checkValue(`${where}.${name}`, rtype, p, v);
    }
    for (const [name, p] of Object.entries(specProps)) {
      if (p.Required && !(name in props)) this.err(where, `required property ${name} is missing`);
    }
  }

  run() {
    const t = this.t;
    if (!t || typeof t !== 'object') {
      this.err('template', 'not a mapping');
      return this.errors;
    }
    for (const k of Object.keys(t)) if (!TOP_LEVEL.has(k)) this.err(k, 'unknown top-level section');
    if (!Object.keys(this.resources).length) this.err('Resources', 'no resources');

    for (const [name, p] of Object.entries(this.params)) {
      const w = `Parameters.${name}`;
      if (!PARAM_TYPES.test(p.Type ?? '')) this.err(w, `invalid Type ${p.Type}`);
      if ('Default' in p) {
        const d = p.Default;
        if (p.AllowedValues && !p.AllowedValues.map(String).includes(String(d))) {
          this.err(w, `Default ${d} is not among AllowedValues`);
        }
        if (p.AllowedPattern && !new RegExp(p.AllowedPattern).test(String(d))) {
          this.err(w, `Default ${d} does not match AllowedPattern`);
        }
        if (p.Type === 'Number') {
          if (Number.isNaN(Number(d))) this.err(w, `Default ${d} is not a number`);
          if ('MinValue' in p && Number(d) < p.MinValue) this.err(w, 'Default below MinValue');
          if ('MaxValue' in p && Number(d) > p.MaxValue) this.err(w, 'Default above MaxValue');
        }
      }
    }

    for (const [name, c] of Object.entries(this.conditions)) {
      const w = `Conditions.${name}`;
      if (!isIntrinsic(c) || !CONDITION_FNS.has(Object.keys(c)[0])) {
        this.err(w, 'must be Fn::Equals, Fn::And, Fn::Or, Fn::Not or Condition');
      }
      this.walk(w, c, new Set());
    }

    for (const [name, r] of Object.entries(this.resources)) {
      const w = `Resources.${name}`;
      for (const k of Object.keys(r ?? {})) if (!RESOURCE_KEYS.has(k)) this.err(w, `unknown key ${k}`);
      const active = new Set();
      if (r.Condition) {
        this.checkCondName(`${w}.Condition`, r.Condition);
        active.add(r.Condition);
      }
      for (const dep of [].concat(r.DependsOn ?? [])) {
        if (!(dep in this.resources)) this.err(`${w}.DependsOn`, `unknown resource ${dep}`);
        else if (this.resources[dep].Condition && !active.has(this.resources[dep].Condition)) {
          this.err(`${w}.DependsOn`, `${dep} exists only when ${this.resources[dep].Condition} holds`);
        }
      }
      for (const k of ['DeletionPolicy', 'UpdateReplacePolicy']) {
        if (k in r && !['Delete', 'Retain', 'Snapshot', 'RetainExceptOnCreate'].includes(r[k])) {
          this.err(`${w}.${k}`, `invalid value ${r[k]}`);
        }
      }
      const spec = SPEC.ResourceTypes[r.Type];
      if (!spec) {
        if (!/^Custom::|^AWS::CloudFormation::CustomResource$/.test(r.Type ?? '')) {
          this.err(w, `unknown resource type ${r.Type}`);
        }
        this.walk(`${w}.Properties`, r.Properties ?? {}, active);
        continue;
      }
      this.walk(`${w}.Properties`, r.Properties ?? {}, active);
      this.checkProperties(`${w}.Properties`, r.Type, spec.Properties ?? {}, r.Properties ?? {});
    }

    for (const [name, o] of Object.entries(t.Outputs ?? {})) {
      const w = `Outputs.${name}`;
      if (!('Value' in o)) this.err(w, 'no Value');
      const active = new Set();
      if (o.Condition) {
        this.checkCondName(`${w}.Condition`, o.Condition);
        active.add(o.Condition);
      }
      this.walk(w, o, active);
    }
    return this.errors;
  }
}

// ---- 4. the project's deployment requirements --------------------------

// Resolves a value with parameter defaults; intrinsics other than Ref are
// returned as they are.
function resolve(t, v) {
  if (isIntrinsic(v) && 'Ref' in v && t.Parameters?.[v.Ref] && 'Default' in t.Parameters[v.Ref]) {
    return t.Parameters[v.Ref].Default;
  }
  return v;
}

function ofType(t, type) {
  return Object.entries(t.Resources ?? {}).filter(([, r]) => r.Type === type);
}

function statements(role) {
  const out = [];
  for (const pol of role.Properties?.Policies ?? []) {
    for (const s of pol.PolicyDocument?.Statement ?? []) {
      if (isIntrinsic(s) && 'Fn::If' in s) {
        for (const b of s['Fn::If'].slice(1)) if (!(isIntrinsic(b) && b.Ref === 'AWS::NoValue')) out.push(b);
      } else {
        out.push(s);
      }
    }
  }
  return out;
}

// Whether condition NAME holds with the parameter defaults (undefined when it
// depends on a parameter without one).
function holds(t, name) {
  const ev = (c) => {
    if (!isIntrinsic(c)) return c;
    const [fn] = Object.keys(c);
    const a = c[fn];
    if (fn === 'Ref') {
      const p = t.Parameters?.[a];
      return p && 'Default' in p ? String(p.Default) : undefined;
    }
    if (fn === 'Condition') return holds(t, a);
    if (fn === 'Fn::Equals') {
      const [x, y] = a.map(ev);
      return x === undefined || y === undefined ? undefined : String(x) === String(y);
    }
    if (fn === 'Fn::Not') {
      const x = ev(a[0]);
      return x === undefined ? undefined : !x;
    }
    if (fn === 'Fn::And' || fn === 'Fn::Or') {
      const xs = a.map(ev);
      if (xs.includes(undefined)) return undefined;
      return fn === 'Fn::And' ? xs.every(Boolean) : xs.some(Boolean);
    }
    return undefined;
  };
  return name in (t.Conditions ?? {}) ? ev(t.Conditions[name]) : undefined;
}

// Every policy statement of every role and policy resource, as [where, statement].
function allStatements(t) {
  const out = [];
  for (const [name, r] of Object.entries(t.Resources ?? {})) {
    if (r.Type === 'AWS::IAM::Role') {
      for (const s of statements(r)) out.push([name, s]);
    } else if (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') {
      for (const s of [].concat(r.Properties?.PolicyDocument?.Statement ?? [])) out.push([name, s]);
    }
  }
  return out;
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// Data keys: KMS-wrapped ring in the environment, kms:Decrypt only, on the
// parameter key, under the libgda encryption context, through a private
// KMS endpoint.
function dataKeyRequirements(t, need, main) {
  const P = t.Parameters ?? {};
  const R = t.Resources ?? {};
  const matches = (pattern, v) => {
    try {
      return new RegExp(pattern).test(v);
    } catch {
      return false;
    }
  };

  const arn = P.DataKeyKmsKeyArn;
  need(arn && arn.Type === 'String' && !('Default' in arn), 'a DataKeyKmsKeyArn parameter without a default');
  const arnGood = ['arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    'arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab'];
  const arnBad = ['', '*', 'arn:aws:kms:eu-west-1:123456789012:key/*', 'arn:aws:kms:*:*:key/x',
    'arn:aws:kms:eu-west-1:123456789012:alias/gda', '1234abcd-12ab-34cd-56ef-1234567890ab',
    'arn:aws:kms:eu-west-1:123456789012:key/1234abcd\nx', 'arn:aws:s3:::bucket'];
  need(arn?.AllowedPattern && arnGood.every((v) => matches(arn.AllowedPattern, v)) &&
       arnBad.every((v) => !matches(arn.AllowedPattern, v)),
       'the DataKeyKmsKeyArn pattern accepts KMS key ARNs only (no alias, no wildcard, not empty)');

  const ring = P.DataKeyRing;
  // A KMS ciphertext blob of a 32-byte key is about 184 bytes; 184 to 186
  // bytes give base64 with two, one and no padding characters.
  const b64 = (n) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 37 + 11) % 256)).toString('base64');
  const blob = b64(184);
  const rawKey = 'ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=';
  const ringGood = [`d1:${blob}`, `d2:${b64(185)},d1:${b64(186)}`, `a.b_c-9:${blob}`,
    `${'i'.repeat(32)}:${blob},k:${b64(48)}`];
  const ringBad = ['', `d1:${rawKey}`, `:${blob}`, `d1:${blob},`, `d1:${blob}, d0:${blob}`,
    `d1 :${blob}`, `d/1:${blob}`, `${'i'.repeat(33)}:${blob}`, `d1:${blob}=`, `d1:${blob.slice(1)}`,
    `d1:${blob}\nd0:${blob}`, 'd1', `d1:${blob};d0:${blob}`];
  need(ring && ring.Type === 'String' && !('Default' in ring), 'a DataKeyRing parameter without a default');
  need(ring && ring.NoEcho !== true && ring.NoEcho !== 'true',
       'DataKeyRing is not NoEcho (its entries are ciphertexts)');
  need(ring?.AllowedPattern && ringGood.every((v) => matches(ring.AllowedPattern, v)) &&
       ringBad.every((v) => !matches(ring.AllowedPattern, v)),
       'the DataKeyRing pattern accepts id:CIPHERTEXT_BASE64[,...] only (no raw 32-byte key)');

  // Environment: the ring from the parameter, no raw key anywhere.
  const env = main?.[1].Properties.Environment?.Variables ?? {};
  need(env.GDA_DATA_KEY_SOURCE === 'kms', 'the function takes its data keys from KMS (GDA_DATA_KEY_SOURCE=kms)');
  need(same(env.GDA_DATA_KEYS, { Ref: 'DataKeyRing' }), 'GDA_DATA_KEYS is the DataKeyRing parameter');
  const hashParam = P[env.GDA_HASH_KEY?.Ref];
  need(same(env.GDA_HASH_KEY, { Ref: 'PayloadHashKey' }) && hashParam?.NoEcho === true &&
       !('Default' in hashParam),
       'GDA_HASH_KEY is the NoEcho PayloadHashKey parameter (kept across data-key rotations)');
  need(hashParam?.AllowedPattern && matches(hashParam.AllowedPattern, blob) &&
       matches(hashParam.AllowedPattern, b64(185)) && !matches(hashParam.AllowedPattern, rawKey) &&
       !matches(hashParam.AllowedPattern, '') && !matches(hashParam.AllowedPattern, `k:${blob}`),
       'the PayloadHashKey pattern accepts a KMS ciphertext only (no raw 32-byte key)');
  for (const [name, f] of ofType(t, 'AWS::Lambda::Function')) {
    const vars = f.Properties.Environment?.Variables ?? {};
    need(!('GDA_DATA_KEY' in vars) && !('GDA_DATA_KEY_FILE' in vars), `${name} has no raw GDA_DATA_KEY`);
    if (f !== main?.[1]) {
      need(!Object.keys(vars).some((k) => k.startsWith('GDA_DATA_KEY') || k === 'GDA_KMS_ENDPOINT'),
           `${name} gets no data keys (only the Data Action function caches results)`);
    }
  }

  // KMS permissions in every role and policy.
  const roleName = main?.[1].Properties.Role?.['Fn::GetAtt']?.[0];
  const direct = [];
  for (const [where, s] of allStatements(t)) {
    const actions = [].concat(s.Action ?? [], s.NotAction ?? []).map(String);
    const kms = actions.filter((a) => /^kms:/i.test(a) || a === '*');
    if (!kms.length) continue;
    need(actions.every((a) => a === 'kms:Decrypt'),
         `the only KMS action is kms:Decrypt, alone in its statement (${where}: ${actions.join(', ')})`);
    need(!s.NotAction && !s.NotResource && s.Effect === 'Allow', `${where}: KMS statements are plain Allows`);
    const via = s.Condition?.StringEquals?.['kms:ViaService'];
    if (via === undefined) {
      direct.push([where, s]);
    } else {
      // Secrets Manager decrypting the secret on the caller's behalf.
      need(same(via, { 'Fn::Sub': 'secretsmanager.${AWS::Region}.amazonaws.com' }) &&
           same(s.Resource, { Ref: 'KmsKeyArn' }) && same(Object.keys(s.Condition), ['StringEquals']) &&
           same(Object.keys(s.Condition.StringEquals), ['kms:ViaService']),
           `${where}: kms:Decrypt through a service is Secrets Manager's, on KmsKeyArn`);
    }
  }
  need(direct.length === 1, `exactly one statement grants kms:Decrypt directly (got ${direct.length})`);
  for (const [where, s] of direct) {
    need(where === roleName, `the direct kms:Decrypt is the Data Action function's (found in ${where})`);
    need(same(s.Resource, { Ref: 'DataKeyKmsKeyArn' }),
         `the data-key kms:Decrypt is on DataKeyKmsKeyArn only (got ${JSON.stringify(s.Resource)})`);
    need(same(s.Condition, { StringEquals: { 'kms:EncryptionContext:libgda': ['data-key', 'hash-key'] } }),
         'the data-key kms:Decrypt is pinned to the encryption context libgda=data-key|hash-key');
  }

  // A version freezes the environment: a ring or key change must publish one.
  const versions = ofType(t, 'AWS::Lambda::Version');
  need(versions.length === 1 && ['DataKeyRing', 'DataKeyKmsKeyArn'].every((n) =>
    JSON.stringify(versions[0][1].Properties?.Description ?? '').includes(`"Ref":"${n}"`)),
  'the version description follows DataKeyRing and DataKeyKmsKeyArn, so a rotation publishes a version');

  // The KMS interface endpoint: private DNS, the function's subnets, HTTPS
  // from the function's security group only.
  const fnSubnets = main?.[1].Properties.VpcConfig?.SubnetIds;
  const fnSg = main?.[1].Properties.VpcConfig?.SecurityGroupIds?.[0];
  const kmsEps = ofType(t, 'AWS::EC2::VPCEndpoint').filter(([, e]) =>
    same(e.Properties?.ServiceName, { 'Fn::Sub': 'com.amazonaws.${AWS::Region}.kms' }));
  need(kmsEps.length === 1, 'one KMS VPC endpoint (com.amazonaws.${AWS::Region}.kms)');
  for (const [name, ep] of kmsEps) {
    const p = ep.Properties;
    need(!ep.Condition || holds(t, ep.Condition) === true, `${name} is created with the parameter defaults`);
    need(p.VpcEndpointType === 'Interface' && (p.PrivateDnsEnabled === true || p.PrivateDnsEnabled === 'true'),
         `${name} is an interface endpoint with private DNS`);
    need(same(p.VpcId, { Ref: 'VpcId' }), `${name} is in the function's VPC`);
    need(fnSubnets && same(p.SubnetIds, fnSubnets), `${name} is in the function's subnets`);
    const groups = (p.SecurityGroupIds ?? []).map((g) => g?.Ref);
    need(groups.length >= 1 && groups.every((g) => R[g]?.Type === 'AWS::EC2::SecurityGroup'),
         `${name} has security groups of this stack`);
    for (const g of groups.filter((x) => R[x])) {
      const ingress = [...(R[g].Properties?.SecurityGroupIngress ?? []),
        ...ofType(t, 'AWS::EC2::SecurityGroupIngress')
          .filter(([, i]) => same(i.Properties?.GroupId, { Ref: g }) ||
                             same(i.Properties?.GroupId, { 'Fn::GetAtt': [g, 'GroupId'] }))
          .map(([, i]) => i.Properties)];
      need(ingress.length > 0 && ingress.every((i) =>
        String(i.IpProtocol) === 'tcp' && Number(i.FromPort) === 443 && Number(i.ToPort) === 443 &&
        fnSg && same(i.SourceSecurityGroupId, fnSg) && !i.CidrIp && !i.CidrIpv6 && !i.SourcePrefixListId),
      `the KMS endpoint's group ${g} admits TCP 443 from the function's security group only`);
      need(same(R[g].Properties?.SecurityGroupEgress, [{ IpProtocol: '-1', CidrIp: '127.0.0.1/32' }]),
           `the KMS endpoint's group ${g} has no outbound rule (loopback only)`);
    }
  }
}

function requirements(t) {
  const errors = [];
  const need = (cond, msg) => { if (!cond) errors.push(`requirement: ${msg}`); };
  const R = t.Resources ?? {};

  // API: POST /genesys/dataaction, Lambda proxy, 29 s, stage throttling.
  const paths = {};
  for (const [name, r] of ofType(t, 'AWS::ApiGateway::Resource')) paths[name] = r.Properties;
  const methods = ofType(t, 'AWS::ApiGateway::Method').filter(([, m]) => {
    const res = m.Properties?.ResourceId?.Ref;
    const leaf = paths[res];
    const parent = leaf && paths[leaf.ParentId?.Ref];
    return leaf?.PathPart === 'dataaction' && parent?.PathPart === 'genesys';
  });
  need(methods.length === 1, 'one method on /genesys/dataaction');
  for (const [, m] of methods) {
    const p = m.Properties;
    need(p.HttpMethod === 'POST', 'the method is POST');
    need(p.Integration?.Type === 'AWS_PROXY', 'Lambda proxy integration');
    need(Number(resolve(t, p.Integration?.TimeoutInMillis)) === 29000, 'integration timeout 29000 ms');
    const auth = p.AuthorizationType;
    need(isIntrinsic(auth) && 'Fn::If' in auth && auth['Fn::If'][1] === 'CUSTOM',
         'the authorizer is optional (AuthorizationType CUSTOM under a condition)');
  }
  const stages = ofType(t, 'AWS::ApiGateway::Stage');
  need(stages.length === 1, 'one API stage');
  for (const [, s] of stages) {
    const all = (s.Properties.MethodSettings ?? []).find((m) => m.ResourcePath === '/*' && m.HttpMethod === '*');
    need(all && Number(resolve(t, all.ThrottlingRateLimit)) === 1000, 'stage rate limit 1000 by default');
    need(all && Number(resolve(t, all.ThrottlingBurstLimit)) === 2000, 'stage burst limit 2000 by default');
  }
  const authorizers = ofType(t, 'AWS::ApiGateway::Authorizer');
  need(authorizers.length === 1 && authorizers[0][1].Condition &&
       authorizers[0][1].Properties.Type === 'REQUEST', 'an optional REQUEST authorizer');

  // Functions: provided.al2023, x86_64, two private subnets, the authorizer
  // runs the same code in authorizer mode.
  const fns = ofType(t, 'AWS::Lambda::Function');
  const main = fns.find(([, f]) => f.Properties.Environment?.Variables?.GDA_MODE === 'data-action');
  const authz = fns.find(([, f]) => f.Properties.Environment?.Variables?.GDA_MODE === 'authorizer');
  need(main, 'a function with GDA_MODE=data-action');
  need(authz, 'an authorizer function with GDA_MODE=authorizer');
  for (const [name, f] of fns) {
    const p = f.Properties;
    need(p.Runtime === 'provided.al2023', `${name} runs on provided.al2023`);
    need(JSON.stringify(p.Architectures) === '["x86_64"]', `${name} is x86_64`);
    need(p.VpcConfig?.SubnetIds?.length === 2, `${name} is in two subnets`);
  }
  if (main && authz) {
    need(JSON.stringify(main[1].Properties.Code) === JSON.stringify(authz[1].Properties.Code),
         'the authorizer runs the same zip');
  }
  if (main) {
    const p = main[1].Properties;
    need(p.ReservedConcurrentExecutions !== undefined, 'reserved concurrency is set');
    need(Number(resolve(t, p.Timeout)) < 29, 'the function times out before API Gateway');
    const env = p.Environment?.Variables ?? {};
    need(env.GDA_STORE !== undefined, 'the function names its store (GDA_STORE)');
    need(env.GDA_HASH_KEY !== undefined, 'a shared store has a shared hash key (GDA_HASH_KEY)');
    const trusted = env.GDA_DIRECT_TRUSTED;
    need(trusted === undefined || trusted === 'false' ||
         (trusted['Fn::If'] && trusted['Fn::If'][0] === 'HasGenesysOrganization' &&
          trusted['Fn::If'][2] === 'false'),
         'direct invocations are trusted only with the Genesys integration role');
    const pc = ofType(t, 'AWS::Lambda::Alias').find(([, a]) => a.Properties.ProvisionedConcurrencyConfig);
    need(pc, 'provisioned concurrency on an alias');
    const lg = ofType(t, 'AWS::Logs::LogGroup');
    need(lg.length && lg.every(([, g]) => g.Properties.RetentionInDays !== undefined),
         'every log group has a retention');
  }

  // Security group: outbound 443 only.
  const sgs = (main?.[1].Properties.VpcConfig?.SecurityGroupIds ?? []).map((x) => R[x.Ref]);
  need(sgs.length === 1, 'the function has one security group of this stack');
  for (const sg of sgs.filter(Boolean)) {
    const egress = sg.Properties.SecurityGroupEgress ?? [];
    need(egress.length > 0 && egress.every((e) => e.IpProtocol === 'tcp' && Number(e.FromPort) === 443 &&
                                          Number(e.ToPort) === 443), 'egress is TCP 443 only');
    need(!(sg.Properties.SecurityGroupIngress ?? []).length, 'no ingress to the function');
  }

  // Table: on demand, TTL on expiresAt, PITR, KMS.
  const tables = ofType(t, 'AWS::DynamoDB::Table');
  need(tables.length === 1, 'one DynamoDB table');
  for (const [, tb] of tables) {
    const p = tb.Properties;
    need(p.BillingMode === 'PAY_PER_REQUEST', 'the table is on demand');
    need(JSON.stringify(p.KeySchema) === '[{"AttributeName":"requestId","KeyType":"HASH"}]',
         'the table is keyed by requestId');
    need(p.TimeToLiveSpecification?.Enabled === true &&
         p.TimeToLiveSpecification?.AttributeName === 'expiresAt', 'TTL on expiresAt');
    need(p.PointInTimeRecoverySpecification?.PointInTimeRecoveryEnabled === true, 'point-in-time recovery');
    need(p.SSESpecification?.SSEEnabled === true && p.SSESpecification?.SSEType === 'KMS', 'KMS encryption');
  }

  // Endpoints: DynamoDB gateway, Secrets Manager interface with private DNS.
  const eps = ofType(t, 'AWS::EC2::VPCEndpoint').map(([, e]) => e.Properties);
  const svc = (e) => JSON.stringify(e.ServiceName);
  need(eps.some((e) => e.VpcEndpointType === 'Gateway' && svc(e).includes('.dynamodb')),
       'a gateway endpoint for DynamoDB');
  need(eps.some((e) => e.VpcEndpointType === 'Interface' && svc(e).includes('.secretsmanager') &&
                       e.PrivateDnsEnabled === true), 'an interface endpoint for Secrets Manager with private DNS');
  need(ofType(t, 'AWS::EC2::NatGateway').length === 0, 'no NAT gateway');
  need(ofType(t, 'AWS::SecretsManager::Secret').length === 1, 'the key ring secret');

  // Least privilege for the function's role.
  const roleName = main?.[1].Properties.Role?.['Fn::GetAtt']?.[0];
  const role = R[roleName];
  need(role, 'the function role is defined here');
  if (role) {
    const allowed = {
      'dynamodb:PutItem': 'table', 'dynamodb:GetItem': 'table', 'dynamodb:UpdateItem': 'table',
      'dynamodb:DeleteItem': 'table', 'secretsmanager:GetSecretValue': 'secret',
      'logs:CreateLogStream': 'logs', 'logs:PutLogEvents': 'logs', 'kms:Decrypt': 'kms',
      'ec2:CreateNetworkInterface': 'eni', 'ec2:DescribeNetworkInterfaces': 'eni',
      'ec2:DeleteNetworkInterface': 'eni', 'ec2:AssignPrivateIpAddresses': 'eni',
      'ec2:UnassignPrivateIpAddresses': 'eni',
    };
    const tableName = tables[0]?.[0];
    const secretName = ofType(t, 'AWS::SecretsManager::Secret')[0]?.[0];
    for (const s of statements(role)) {
      need(s.Effect === 'Allow' && !s.NotAction && !s.NotResource, 'role statements are plain Allows');
      const actions = [].concat(s.Action);
      const kinds = new Set(actions.map((a) => allowed[a]));
      need(!kinds.has(undefined), `role actions are limited to the list (got ${actions.join(', ')})`);
      need(kinds.size === 1, `one kind of access per statement (${actions.join(', ')})`);
      const kind = [...kinds][0];
      const res = JSON.stringify(s.Resource);
      if (kind === 'table') need(res === JSON.stringify({ 'Fn::GetAtt': [tableName, 'Arn'] }), 'DynamoDB access to the table only');
      if (kind === 'secret') need(res === JSON.stringify({ Ref: secretName }), 'Secrets Manager access to the secret only');
      if (kind === 'logs') need(res !== '"*"', 'logs access scoped to the log group');
      if (kind === 'kms') need(res !== '"*"' && s.Condition, 'KMS decrypt scoped to a key and a condition');
    }
  }
  dataKeyRequirements(t, need, main);

  // Alarms: errors, throttles, p99 latency.
  const alarms = ofType(t, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
  need(alarms.some((a) => a.MetricName === 'Errors' && a.Namespace === 'AWS/Lambda'), 'an alarm on function errors');
  need(alarms.some((a) => a.MetricName === 'Throttles'), 'an alarm on throttles');
  need(alarms.some((a) => a.ExtendedStatistic === 'p99' && ['Latency', 'Duration'].includes(a.MetricName)),
       'an alarm on p99 latency');
  return errors;
}

export function checkTemplate(t) {
  const errors = new Checker(t).run();
  return errors.length ? errors : requirements(t);
}

// ---- self test -------------------------------------------------------------

const BREAKS = [
  ['no hash key for the shared table', (t) => { delete t.Resources.Function.Properties.Environment.Variables.GDA_HASH_KEY; }, null,
   'shared hash key'],
  ['direct invocations always trusted', (t) => { t.Resources.Function.Properties.Environment.Variables.GDA_DIRECT_TRUSTED = 'true'; }, null,
   'trusted only with the Genesys integration role'],
  ['an unknown tag', null, (s) => s.replace('!GetAtt FunctionRole.Arn', '!GetAttr FunctionRole.Arn'),
   'unknown tag'],
  ['a duplicate key', null, (s) => s.replace('      Runtime: provided.al2023\n',
                                              '      Runtime: provided.al2023\n      Runtime: provided.al2\n'),
   'duplicated mapping key'],
  ['an unknown property', (t) => { t.Resources.Function.Properties.Runtim = 'x'; }, null, 'no such property'],
  ['a missing required property', (t) => { delete t.Resources.FunctionRole.Properties.AssumeRolePolicyDocument; }, null,
   'required property AssumeRolePolicyDocument'],
  ['a wrong value type', (t) => { t.Resources.IdempotencyTable.Properties.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled = 'yes'; }, null,
   'is not a Boolean'],
  ['a list where a scalar goes', (t) => { t.Resources.Function.Properties.MemorySize = [256]; }, null, 'is not a Integer'],
  ['a Ref to nothing', (t) => { t.Resources.Function.Properties.Timeout = { Ref: 'FunctionTimeout' }; }, null,
   'reference to FunctionTimeout'],
  ['a GetAtt of a missing attribute', (t) => { t.Resources.Function.Properties.Role = { 'Fn::GetAtt': ['FunctionRole', 'Name'] }; }, null,
   'has no attribute Name'],
  ['a Sub variable that resolves to nothing', (t) => { t.Outputs.BaseUrl.Value['Fn::Sub'] = 'https://${RestApi}.example'; }, null,
   'reference to RestApi'],
  ['an unknown resource type', (t) => { t.Resources.Api.Type = 'AWS::ApiGateway::RestAPI'; }, null, 'unknown resource type'],
  ['a conditional resource used unconditionally', (t) => { t.Resources.DataActionMethod.Properties.AuthorizerId = { Ref: 'Authorizer' }; }, null,
   'exists only when UseAuthorizer holds'],
  ['an unknown condition', (t) => { t.Resources.Authorizer.Condition = 'UseAuth'; }, null, 'unknown condition UseAuth'],
  ['a bad parameter default', (t) => { t.Parameters.AuthScheme.Default = 'hmac'; }, null, 'not among AllowedValues'],
  ['the integration timeout changed', (t) => { t.Resources.DataActionMethod.Properties.Integration.TimeoutInMillis = 10000; }, null,
   'integration timeout 29000'],
  ['the stage burst changed', (t) => { t.Parameters.ThrottlingBurstLimit.Default = 500; }, null, 'burst limit 2000'],
  ['egress opened', (t) => { t.Resources.FunctionSecurityGroup.Properties.SecurityGroupEgress.push({ IpProtocol: '-1', CidrIp: '0.0.0.0/0' }); }, null,
   'egress is TCP 443 only'],
  ['a table wildcard in the role', (t) => { t.Resources.FunctionRole.Properties.Policies[0].PolicyDocument.Statement[0].Resource = '*'; }, null,
   'DynamoDB access to the table only'],
  ['an extra action in the role', (t) => { t.Resources.FunctionRole.Properties.Policies[0].PolicyDocument.Statement[0].Action.push('dynamodb:Scan'); }, null,
   'role actions are limited'],
  ['TTL on the wrong attribute', (t) => { t.Resources.IdempotencyTable.Properties.TimeToLiveSpecification.AttributeName = 'ttl'; }, null,
   'TTL on expiresAt'],
  ['the p99 alarm removed', (t) => { delete t.Resources.ApiLatencyP99Alarm; }, null, 'p99 latency'],
  // Data keys wrapped by KMS.
  ['the key ARN parameter removed', (t) => { delete t.Parameters.DataKeyKmsKeyArn; }, null,
   'reference to DataKeyKmsKeyArn'],
  ['the key ARN pattern admits an alias', (t) => {
    t.Parameters.DataKeyKmsKeyArn.AllowedPattern = '^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)/[A-Za-z0-9-]+$';
  }, null, 'accepts KMS key ARNs only'],
  ['the key ARN pattern unanchored', (t) => {
    t.Parameters.DataKeyKmsKeyArn.AllowedPattern = 'arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+';
  }, null, 'accepts KMS key ARNs only'],
  ['the key ARN with a default', (t) => { t.Parameters.DataKeyKmsKeyArn.Default = 'arn:aws:kms:eu-west-1:123456789012:key/x'; }, null,
   'DataKeyKmsKeyArn parameter without a default'],
  ['the ring NoEcho', (t) => { t.Parameters.DataKeyRing.NoEcho = true; }, null, 'DataKeyRing is not NoEcho'],
  ['the ring pattern admits a raw key', (t) => {
    t.Parameters.DataKeyRing.AllowedPattern = '^[A-Za-z0-9._-]{1,64}:[A-Za-z0-9+/]+={0,2}(,[A-Za-z0-9._-]{1,64}:[A-Za-z0-9+/]+={0,2})*$';
  }, null, 'DataKeyRing pattern accepts'],
  ['the ring pattern admits anything', (t) => { t.Parameters.DataKeyRing.AllowedPattern = '.*'; }, null, 'DataKeyRing pattern accepts'],
  ['the ring pattern removed', (t) => { delete t.Parameters.DataKeyRing.AllowedPattern; }, null, 'DataKeyRing pattern accepts'],
  ['data keys not from KMS', (t) => { t.Resources.Function.Properties.Environment.Variables.GDA_DATA_KEY_SOURCE = 'env'; }, null,
   'GDA_DATA_KEY_SOURCE=kms'],
  ['the ring inlined', (t) => { t.Resources.Function.Properties.Environment.Variables.GDA_DATA_KEYS = 'd1:AAAA'; }, null,
   'GDA_DATA_KEYS is the DataKeyRing parameter'],
  ['a raw data key', (t) => { t.Resources.Function.Properties.Environment.Variables.GDA_DATA_KEY = { Ref: 'PayloadHashKey' }; }, null,
   'has no raw GDA_DATA_KEY'],
  ['the authorizer gets the ring', (t) => {
    t.Resources.AuthorizerFunction.Properties.Environment.Variables.GDA_DATA_KEYS = { Ref: 'DataKeyRing' };
  }, null, 'AuthorizerFunction gets no data keys'],
  ['the hash key from another parameter', (t) => { t.Resources.Function.Properties.Environment.Variables.GDA_HASH_KEY = { Ref: 'InitialKeyRing' }; }, null,
   'NoEcho PayloadHashKey'],
  ['a raw hash key allowed', (t) => { t.Parameters.PayloadHashKey.AllowedPattern = '^.*$'; }, null,
   'accepts a KMS ciphertext only'],
  ['data-key decrypt on every key', (t) => { dataKeyStatement(t).Resource = '*'; }, null, 'on DataKeyKmsKeyArn only'],
  ['data-key decrypt on the other key', (t) => { dataKeyStatement(t).Resource = { Ref: 'KmsKeyArn' }; }, null,
   'on DataKeyKmsKeyArn only'],
  ['data-key decrypt without the context', (t) => { delete dataKeyStatement(t).Condition; }, null,
   'pinned to the encryption context'],
  ['data-key decrypt with another context', (t) => {
    dataKeyStatement(t).Condition = { StringLike: { 'kms:EncryptionContext:libgda': '*' } };
  }, null, 'pinned to the encryption context'],
  ['the function may make data keys', (t) => { dataKeyStatement(t).Action = ['kms:Decrypt', 'kms:GenerateDataKey']; }, null,
   'the only KMS action is kms:Decrypt'],
  ['the function may encrypt', (t) => {
    t.Resources.FunctionRole.Properties.Policies[0].PolicyDocument.Statement.push(
      { Effect: 'Allow', Action: 'kms:Encrypt', Resource: { Ref: 'DataKeyKmsKeyArn' } });
  }, null, 'the only KMS action is kms:Decrypt'],
  ['the authorizer may use KMS at will', (t) => {
    t.Resources.AuthorizerRole.Properties.Policies[0].PolicyDocument.Statement.push(
      { Effect: 'Allow', Action: 'kms:*', Resource: '*' });
  }, null, 'the only KMS action is kms:Decrypt'],
  ['the authorizer may decrypt data keys', (t) => {
    t.Resources.AuthorizerRole.Properties.Policies[0].PolicyDocument.Statement.push(
      JSON.parse(JSON.stringify(dataKeyStatement(t))));
  }, null, 'exactly one statement grants kms:Decrypt directly'],
  ['the data-key decrypt removed', (t) => {
    const st = t.Resources.FunctionRole.Properties.Policies[0].PolicyDocument.Statement;
    st.splice(st.indexOf(dataKeyStatement(t)), 1);
  }, null, 'exactly one statement grants kms:Decrypt directly'],
  ['a fake ViaService opens any key', (t) => {
    dataKeyStatement(t).Condition = { StringEquals: { 'kms:ViaService': 'lambda.amazonaws.com' } };
  }, null, 'Secrets Manager\'s, on KmsKeyArn'],
  ['a ring change publishes no version', (t) => {
    t.Resources.FunctionVersion.Properties.Description = { 'Fn::Sub': 'code s3://${CodeS3Bucket}/${CodeS3Key}' };
  }, null, 'so a rotation publishes a version'],
  ['the KMS endpoint removed', (t) => { delete t.Resources.KmsEndpoint; }, null, 'one KMS VPC endpoint'],
  ['the KMS endpoint off by default', (t) => { t.Parameters.CreateKmsEndpoint.Default = 'false'; }, null,
   'KmsEndpoint is created with the parameter defaults'],
  ['the KMS endpoint without private DNS', (t) => { t.Resources.KmsEndpoint.Properties.PrivateDnsEnabled = false; }, null,
   'interface endpoint with private DNS'],
  ['the KMS endpoint in one subnet', (t) => { t.Resources.KmsEndpoint.Properties.SubnetIds = [{ Ref: 'PrivateSubnetA' }]; }, null,
   "in the function's subnets"],
  ['the KMS endpoint open to the VPC', (t) => {
    t.Resources.KmsEndpointSecurityGroup.Properties.SecurityGroupIngress.push(
      { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, CidrIp: '10.0.0.0/8' });
  }, null, "admits TCP 443 from the function's security group only"],
  ['the KMS endpoint open on another port', (t) => {
    t.Resources.KmsEndpointSecurityGroup.Properties.SecurityGroupIngress[0].ToPort = 8443;
  }, null, "admits TCP 443 from the function's security group only"],
  ['the KMS endpoint opened by a separate ingress', (t) => {
    t.Resources.KmsOpen = { Type: 'AWS::EC2::SecurityGroupIngress', Condition: 'MakeKmsEndpoint',
      Properties: { GroupId: { 'Fn::GetAtt': ['KmsEndpointSecurityGroup', 'GroupId'] }, IpProtocol: 'tcp',
                    FromPort: 443, ToPort: 443, CidrIp: '0.0.0.0/0' } };
  }, null, "admits TCP 443 from the function's security group only"],
  ['the KMS endpoint group with default egress', (t) => { delete t.Resources.KmsEndpointSecurityGroup.Properties.SecurityGroupEgress; }, null,
   'no outbound rule'],
];

function dataKeyStatement(t) {
  return t.Resources.FunctionRole.Properties.Policies[0].PolicyDocument.Statement.find((s) => s.Sid === 'DataKeyDecrypt');
}

function selfTest(text) {
  const failures = [];
  const baseline = checkTemplate(parseTemplate(text));
  if (baseline.length) failures.push(`the unbroken template fails: ${baseline.join('; ')}`);
  for (const [label, mutate, textEdit, expect] of BREAKS) {
    let errors;
    try {
      const src = textEdit ? textEdit(text) : text;
      if (src === text && textEdit) {
        failures.push(`break "${label}" did not change the text`);
        continue;
      }
      const t = parseTemplate(src);
      if (mutate) mutate(t);
      errors = checkTemplate(t);
    } catch (e) {
      errors = [e.message];
    }
    if (!errors.some((e) => e.includes(expect))) {
      failures.push(`break "${label}" was not reported as "${expect}" (got: ${errors.join('; ') || 'no error'})`);
    }
  }
  return { failures, count: BREAKS.length + 1 };
}

function main() {
  const args = process.argv.slice(2);
  const self = args[0] === '--self-test';
  const file = self ? args[1] : args[0];
  if (!file) throw new Error('usage: check_cfn_template.mjs [--self-test] TEMPLATE.yaml');
  const text = fs.readFileSync(file, 'utf8');
  if (self) {
    const { failures, count } = selfTest(text);
    for (const f of failures) console.log(`FAIL ${f}`);
    console.log(`${count - failures.length} passed, ${failures.length} failed`);
    process.exitCode = failures.length ? 1 : 0;
    return;
  }
  let t;
  try {
    t = parseTemplate(text);
  } catch (e) {
    throw new Error(`${file} does not parse as CloudFormation YAML: ${e.message}`);
  }
  const errors = checkTemplate(t);
  for (const e of errors) console.log(`FAIL ${e}`);
  const n = Object.keys(t.Resources ?? {}).length;
  console.log(`${file}: ${n} resources checked against CloudFormation specification ` +
              `${SPEC.ResourceSpecificationVersion}`);
  console.log(`${errors.length ? 0 : 1} passed, ${errors.length ? 1 : 0} failed`);
  process.exitCode = errors.length ? 1 : 0;
}

try {
  main();
} catch (e) {
  console.error(`check_cfn_template: ${e.message}`);
  process.exitCode = 1;
}
