// Validates the Genesys Data Action exports in examples/genesys/ against the
// real code:
//   - the file parses and has the export shape Genesys imports;
//   - both contracts are valid JSON Schema draft-04 (Ajv, strict), the output
//     contract is flat, and the input contract is the reference spec the
//     pipeline enforces (names, types, required);
//   - the request template, rendered as Velocity with sample inputs (Genesys'
//     $esc.jsonString semantics, formal references left in place when null),
//     is JSON that the pipeline accepts: each rendered request goes through
//     the enrichment example via invoke_enrichment (API Gateway event for the
//     web-services action with its rendered headers and credential, direct
//     invocation for the Lambda action) and must answer 200 completed;
//   - every translation map path resolves in those real responses or has a
//     default, and the success template then renders JSON that the output
//     contract accepts, carrying the values the handler returned.
//
// Usage: node check_genesys_action.mjs --helper PATH --customers CSV
//          --credentials JSON ACTION.json...
//        node check_genesys_action.mjs --self-test --helper PATH
//          --customers CSV --credentials JSON ACTION.json
// The self test breaks a copy of the action in known ways and requires each
// break to be reported, so the checks above cannot pass vacuously.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import process from 'node:process';

import { loadDeps } from './deps.mjs';

const deps = loadDeps(['ajv-draft-04', 'velocityjs', 'jsonpath-plus']);
const Ajv = deps['ajv-draft-04'].default ?? deps['ajv-draft-04'];
const velocity = deps['velocityjs'];
const { JSONPath } = deps['jsonpath-plus'];

const DRAFT4 = 'http://json-schema.org/draft-04/schema#';
const ROUTE = '/genesys/dataaction';
const STAGE = 'prod';
const PRIMITIVES = new Set(['string', 'integer', 'number', 'boolean']);
// The secret the checks authenticate with, as the Genesys credential holds it.
const SECRET_B64 = crypto.randomBytes(32).toString('base64');
const KEYRING = `genesys-test:${SECRET_B64}`;

function parseArgs(argv) {
  const o = { actions: [], selfTest: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--helper') o.helper = argv[++i];
    else if (a === '--customers') o.customers = argv[++i];
    else if (a === '--credentials') o.credentials = argv[++i];
    else if (a === '--self-test') o.selfTest = true;
    else o.actions.push(a);
  }
  if (!o.helper || !o.customers || !o.credentials || o.actions.length === 0) {
    throw new Error('usage: check_genesys_action.mjs [--self-test] --helper PATH ' +
                    '--customers CSV --credentials JSON ACTION.json...');
  }
  return o;
}

function readJson(file) {
  const text = fs.readFileSync(file, 'utf8');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${file} is not valid JSON: ${e.message}`);
  }
}

function loadCustomers(file) {
  const rows = new Map();
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim() || line.startsWith('#')) continue;
    const [phone, tier, accountStatus, language, openCases] = line.trim().split(',');
    rows.set(phone, { tier, accountStatus, language, openCases: Number(openCases) });
  }
  if (rows.size === 0) throw new Error(`${file} holds no customer`);
  return rows;
}

// ---- the pipeline, through the C helper --------------------------------

function runHelper(helper, args, input) {
  const r = spawnSync(helper, args, {
    input, encoding: 'utf8', env: { ...process.env, GDA_EXAMPLE_KEYRING: KEYRING },
  });
  if (r.error) throw new Error(`cannot run ${helper}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new Error(`${helper} ${args.join(' ')} exited ${r.status}: ${r.stderr.trim()}`);
  }
  return JSON.parse(r.stdout);
}

function apiGatewayEvent(urlPath, headers, body) {
  const multi = {};
  for (const [k, v] of Object.entries(headers)) multi[k] = [v];
  return {
    resource: ROUTE, path: urlPath, httpMethod: 'POST', headers, multiValueHeaders: multi,
    queryStringParameters: null, multiValueQueryStringParameters: null,
    pathParameters: null, stageVariables: null,
    requestContext: {
      resourcePath: ROUTE, httpMethod: 'POST', stage: STAGE, path: `/${STAGE}${urlPath}`,
      requestId: crypto.randomUUID(), accountId: '123456789012', apiId: 'a1b2c3d4e5',
      identity: { sourceIp: '52.18.40.13', userAgent: 'PureCloudIntegrations/1.0' },
    },
    body, isBase64Encoded: false,
  };
}

// Sends a rendered request the way the action's integration would and
// returns {status, body} with body parsed.
function invoke(ctx, action, rendered) {
  let out;
  if (action.integrationType === 'aws-lambda-data-actions') {
    out = runHelper(ctx.helper, ['handle'], rendered.body);
    if (out.kind !== 'direct') throw new Error(`direct invocation decoded as ${out.kind}`);
    return { status: out.status, body: JSON.parse(out.output) };
  }
  const url = new URL(rendered.url);
  const base = new URL(ctx.credentials.baseUrl);
  if (!url.pathname.startsWith(base.pathname)) {
    throw new Error(`request URL ${url} is not under the base URL ${base}`);
  }
  const stagePath = url.pathname.slice(base.pathname.replace(/\/$/, '').length);
  const event = apiGatewayEvent(stagePath, rendered.headers, rendered.body);
  out = runHelper(ctx.helper, ['handle'], JSON.stringify(event));
  if (out.kind !== 'apigw-rest') throw new Error(`API Gateway event decoded as ${out.kind}`);
  const proxy = JSON.parse(out.output);
  return { status: proxy.statusCode, body: JSON.parse(proxy.body) };
}

// ---- Velocity as Genesys runs it ---------------------------------------

// Renders one template. $esc.jsonString of a null value is an error here:
// Genesys would leave the whole call in the output and send broken JSON.
function renderVelocity(template, context, what, errors) {
  const esc = {
    jsonString(v) {
      if (v === null || v === undefined) {
        errors.push(`${what}: $esc.jsonString called on a null value (guard optional inputs)`);
        return '';
      }
      return JSON.stringify(String(v)).slice(1, -1);
    },
  };
  let text;
  try {
    text = velocity.render(template, { ...context, esc });
  } catch (e) {
    errors.push(`${what}: Velocity error: ${e.message}`);
    return null;
  }
  // Formal references to null values render as themselves: never let one out.
  const left = text.match(/\$!?\{[^}]*\}|\$esc\.[A-Za-z]+/);
  if (left) {
    errors.push(`${what}: unresolved reference ${left[0]} in the rendered text`);
    return null;
  }
  return text;
}

function renderRequest(action, input, credentials, errors) {
  const req = action.config.request;
  const ctx = { input, credentials };
  const url = renderVelocity(req.requestUrlTemplate, ctx, 'requestUrlTemplate', errors);
  const headers = {};
  for (const [name, value] of Object.entries(req.headers ?? {})) {
    const v = renderVelocity(value, ctx, `header ${name}`, errors);
    if (v !== null) headers[name] = v;
  }
  const body = renderVelocity(req.requestTemplate, ctx, 'requestTemplate', errors);
  return url === null || body === null ? null : { url, headers, body };
}

// ---- static checks -----------------------------------------------------

function compileSchema(ajv, schema, what, errors) {
  if (!schema || typeof schema !== 'object') {
    errors.push(`${what} is missing`);
    return null;
  }
  if (schema.$schema !== DRAFT4) errors.push(`${what}.$schema must be ${DRAFT4}`);
  if (schema.type !== 'object') errors.push(`${what}.type must be "object"`);
  if (!schema.properties || typeof schema.properties !== 'object') {
    errors.push(`${what} has no properties`);
  }
  try {
    return ajv.compile(schema);
  } catch (e) {
    errors.push(`${what} is not valid JSON Schema draft-04: ${e.message}`);
    return null;
  }
}

function checkShape(action, errors) {
  if (typeof action.name !== 'string' || !action.name.trim()) errors.push('name is missing');
  if (action.actionType !== 'custom') errors.push('actionType must be "custom"');
  const req = action.config?.request;
  const resp = action.config?.response;
  if (!req || !resp) {
    errors.push('config.request and config.response are required');
    return false;
  }
  if (req.requestType !== 'POST') errors.push('config.request.requestType must be POST');
  for (const k of ['requestUrlTemplate', 'requestTemplate']) {
    if (typeof req[k] !== 'string' || !req[k]) errors.push(`config.request.${k} is missing`);
  }
  if (typeof resp.successTemplate !== 'string') errors.push('successTemplate is missing');
  if (!resp.translationMap || typeof resp.translationMap !== 'object') {
    errors.push('translationMap is missing');
  }
  if (action.integrationType === 'custom-rest-actions') {
    const h = req.headers ?? {};
    const ct = Object.entries(h).find(([k]) => k.toLowerCase() === 'content-type');
    if (!ct || ct[1] !== 'application/json') {
      errors.push('headers must send Content-Type: application/json');
    }
    const cred = Object.entries(h).find(([k]) => k.toLowerCase() === 'x-genesys-signature');
    if (!cred || !/^\$\{credentials\.[A-Za-z0-9_]+\}$/.test(cred[1])) {
      errors.push('headers must carry X-Genesys-Signature from a User Defined credential ' +
                  'field (${credentials.NAME})');
    }
    if (!/^(https:\/\/|\$\{credentials\.[A-Za-z0-9_]+\})/.test(req.requestUrlTemplate ?? '')) {
      errors.push('requestUrlTemplate must be https:// or start with a credential field');
    }
  } else if (action.integrationType === 'aws-lambda-data-actions') {
    if (!/^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9_$-]+)?$/
        .test(req.requestUrlTemplate ?? '')) {
      errors.push('requestUrlTemplate must be a Lambda function (or alias) ARN');
    }
    if (Object.keys(req.headers ?? {}).length) {
      errors.push('a Lambda action sends no headers (IAM authenticates the invocation)');
    }
  } else {
    errors.push(`integrationType ${action.integrationType} is neither custom-rest-actions ` +
                'nor aws-lambda-data-actions');
  }
  return errors.length === 0;
}

// Every credential field a template names must exist in the credential
// set-up the guide tells users to create.
function checkCredentialFields(action, fieldNames, errors) {
  const req = action.config.request;
  const texts = [req.requestUrlTemplate, req.requestTemplate, ...Object.values(req.headers ?? {})];
  for (const t of texts) {
    for (const m of String(t).matchAll(/credentials\.([A-Za-z0-9_]+)/g)) {
      if (!fieldNames.includes(m[1])) {
        errors.push(`credential field ${m[1]} is used but not defined in the credential set-up`);
      }
    }
  }
}

function checkInputAgainstSpec(schema, spec, errors) {
  const props = schema.properties ?? {};
  const names = new Set(Object.keys(props));
  const required = new Set(schema.required ?? []);
  for (const f of spec.fields) {
    if (!names.has(f.name)) {
      errors.push(`input contract lacks ${f.name}, which the reference spec declares`);
      continue;
    }
    if (props[f.name].type !== f.type) {
      errors.push(`input ${f.name} is ${props[f.name].type} in the contract, ${f.type} in the spec`);
    }
    if (f.required !== required.has(f.name)) {
      errors.push(`input ${f.name} is ${f.required ? '' : 'not '}required by the spec but ` +
                  `${required.has(f.name) ? '' : 'not '}by the contract`);
    }
  }
  for (const n of names) {
    if (!spec.fields.some((f) => f.name === n)) {
      errors.push(`input contract field ${n} is unknown to the reference spec`);
    }
  }
}

function checkOutputShape(action, schema, errors) {
  const props = schema.properties ?? {};
  const map = action.config.response.translationMap ?? {};
  for (const [name, p] of Object.entries(props)) {
    if (!PRIMITIVES.has(p.type)) errors.push(`output ${name} is not a flat primitive`);
    if (!(name in map)) errors.push(`output ${name} has no translation map entry`);
  }
  for (const key of Object.keys(map)) {
    if (!(key in props)) errors.push(`translation map key ${key} is not in the output contract`);
  }
  const defaults = action.config.response.translationMapDefaults ?? {};
  for (const [key, text] of Object.entries(defaults)) {
    if (!(key in map)) errors.push(`default for ${key}, which the translation map lacks`);
    try {
      JSON.parse(text);
    } catch {
      errors.push(`translationMapDefaults.${key} is not JSON (strings need escaped quotes)`);
    }
  }
}

// ---- the dynamic checks ------------------------------------------------

function sampleInputs(customers) {
  const at = '2026-11-24T10:00:00.000Z';
  const samples = [];
  for (const phone of customers.keys()) {
    const conv = crypto.randomUUID();
    samples.push({
      label: `known caller ${phone}`, phone,
      input: { interactionId: conv, requestId: `${conv}:enrichment:${at}`,
               queueId: crypto.randomUUID(), callerId: phone, timestamp: at },
    });
  }
  const conv = crypto.randomUUID();
  samples.push({
    label: 'unknown caller, empty optional inputs', phone: '+15559999999',
    input: { interactionId: conv, requestId: `${conv}:a`, queueId: '', callerId: '+15559999999',
             timestamp: '' },
  });
  const anon = crypto.randomUUID();
  samples.push({
    label: 'anonymous caller, required inputs only', phone: null,
    input: { interactionId: anon.toUpperCase(), requestId: 'req "quoted" \\ back/slash ünïcødé' },
  });
  return samples;
}

function evaluateResponse(action, outSchemaFn, body, label, errors) {
  const { translationMap, translationMapDefaults = {}, successTemplate } = action.config.response;
  const values = {};
  for (const [key, path] of Object.entries(translationMap)) {
    let found;
    try {
      found = JSONPath({ path, json: body, wrap: true });
    } catch (e) {
      errors.push(`${label}: JSONPath ${path} (${key}) is invalid: ${e.message}`);
      continue;
    }
    if (found.length === 1) {
      values[key] = JSON.stringify(found[0]);
    } else if (found.length > 1) {
      errors.push(`${label}: JSONPath ${path} (${key}) matches ${found.length} values`);
    } else if (key in translationMapDefaults) {
      values[key] = translationMapDefaults[key];
    } else {
      errors.push(`${label}: JSONPath ${path} (${key}) finds nothing in the response and ` +
                  'has no default');
    }
  }
  const text = renderVelocity(successTemplate, values, `${label}: successTemplate`, errors);
  if (text === null) return null;
  let out;
  try {
    out = JSON.parse(text);
  } catch (e) {
    errors.push(`${label}: successTemplate renders invalid JSON (${e.message}): ${text}`);
    return null;
  }
  if (outSchemaFn && !outSchemaFn(out)) {
    errors.push(`${label}: output contract refuses ${text}: ` +
                JSON.stringify(outSchemaFn.errors));
  }
  return out;
}

function checkAction(action, ctx) {
  const errors = [];
  if (!checkShape(action, errors)) return errors;
  const ajv = new Ajv({ strict: true, allErrors: true });
  const inSchema = action.contract?.input?.inputSchema;
  const outSchema = action.contract?.output?.successSchema;
  const inFn = compileSchema(ajv, inSchema, 'contract.input.inputSchema', errors);
  const outFn = compileSchema(ajv, outSchema, 'contract.output.successSchema', errors);
  if (inSchema) checkInputAgainstSpec(inSchema, ctx.spec, errors);
  if (outSchema) checkOutputShape(action, outSchema, errors);
  if (action.integrationType === 'custom-rest-actions') {
    checkCredentialFields(action, ctx.credentialFields, errors);
  }
  if (errors.length) return errors;

  for (const s of sampleInputs(ctx.customers)) {
    if (!inFn(s.input)) {
      errors.push(`${s.label}: input contract refuses the sample: ${JSON.stringify(inFn.errors)}`);
      continue;
    }
    const rendered = renderRequest(action, s.input, ctx.credentials, errors);
    if (!rendered) continue;
    try {
      JSON.parse(rendered.body);
    } catch (e) {
      errors.push(`${s.label}: requestTemplate renders invalid JSON (${e.message}): ` +
                  rendered.body);
      continue;
    }
    const r = invoke(ctx, action, rendered);
    if (r.status !== 200 || r.body.status !== 'completed') {
      errors.push(`${s.label}: the pipeline answered ${r.status} ${JSON.stringify(r.body)}`);
      continue;
    }
    const out = evaluateResponse(action, outFn, r.body, s.label, errors);
    if (!out) continue;
    const want = s.phone ? ctx.customers.get(s.phone) : undefined;
    if (out.customerFound !== Boolean(want)) {
      errors.push(`${s.label}: customerFound is ${out.customerFound}`);
    }
    if (want) {
      for (const k of ['tier', 'accountStatus', 'language', 'openCases']) {
        if (out[k] !== want[k]) {
          errors.push(`${s.label}: ${k} is ${JSON.stringify(out[k])}, the table says ` +
                      JSON.stringify(want[k]));
        }
      }
    }
    if (out.routingHint !== r.body.data.routingHint) {
      errors.push(`${s.label}: routingHint ${out.routingHint} differs from the response`);
    }
  }

  // The credential is what lets a request in: a wrong one must be refused.
  if (action.integrationType === 'custom-rest-actions' && errors.length === 0) {
    const wrong = { ...ctx.credentials, token: crypto.randomBytes(32).toString('base64') };
    const s = sampleInputs(ctx.customers)[0];
    const rendered = renderRequest(action, s.input, wrong, errors);
    if (rendered) {
      const r = invoke(ctx, action, rendered);
      if (r.status !== 401 || r.body.requiresRetry !== false) {
        errors.push(`a wrong credential was answered ${r.status}, not 401`);
      }
    }
  }
  return errors;
}

// ---- self test: each break must be caught ------------------------------

const BREAKS = [
  ['a default removed for a field unknown callers lack',
   (a) => { delete a.config.response.translationMapDefaults.accountStatus; },
   'finds nothing in the response'],
  ['a JSONPath that misses the data object',
   (a) => { a.config.response.translationMap.tier = '$.tier'; },
   'finds nothing in the response'],
  ['an optional input used without a guard',
   (a) => {
     a.config.request.requestTemplate = a.config.request.requestTemplate.replace(
       /#if\("\$!\{input\.queueId\}" == ""\)null#\{else\}("\$esc\.jsonString\(\$\{input\.queueId\}\)")#\{end\}/,
       '$1');
   },
   '$esc.jsonString called on a null value'],
  ['a string quoted twice in the success template',
   (a) => {
     a.config.response.successTemplate =
       a.config.response.successTemplate.replace('${tier}', '"${tier}"');
   },
   'successTemplate renders invalid JSON'],
  ['an invalid schema keyword value',
   (a) => { a.contract.input.inputSchema.properties.callerId.type = 'strin'; },
   'not valid JSON Schema'],
  ['the idempotency key missing from the contract',
   (a) => {
     delete a.contract.input.inputSchema.properties.requestId;
     a.contract.input.inputSchema.required = ['interactionId'];
   },
   'input contract lacks requestId'],
  ['an unescaped input in the body',
   (a) => {
     a.config.request.requestTemplate = a.config.request.requestTemplate.replace(
       '"$esc.jsonString(${input.requestId})"', '"${input.requestId}"');
   },
   'requestTemplate renders invalid JSON'],
  ['an output the contract does not declare',
   (a) => { a.contract.output.successSchema.properties.openCases.type = 'string'; },
   'output contract refuses'],
  ['a nested output',
   (a) => { a.contract.output.successSchema.properties.tier = { type: 'object' }; },
   'not a flat primitive'],
];
const WEB_BREAKS = [
  ['the credential header removed',
   (a) => { delete a.config.request.headers['X-Genesys-Signature']; },
   'X-Genesys-Signature'],
  ['a credential header read from an undefined field',
   (a) => { a.config.request.headers['X-Genesys-Signature'] = '${credentials.apiKey}'; },
   'credential field apiKey'],
  ['the wrong route',
   (a) => { a.config.request.requestUrlTemplate = '${credentials.baseUrl}/genesys/other'; },
   'the pipeline answered 404'],
];

function selfTest(action, ctx) {
  const failures = [];
  const baseline = checkAction(action, ctx);
  if (baseline.length) failures.push(`the unbroken action fails: ${baseline.join('; ')}`);
  const breaks = action.integrationType === 'custom-rest-actions'
    ? [...BREAKS, ...WEB_BREAKS] : BREAKS;
  for (const [label, mutate, expect] of breaks) {
    const copy = structuredClone(action);
    mutate(copy);
    if (JSON.stringify(copy) === JSON.stringify(action)) {
      failures.push(`break "${label}" did not change the action`);
      continue;
    }
    const errors = checkAction(copy, ctx);
    if (!errors.some((e) => e.includes(expect))) {
      failures.push(`break "${label}" was not reported as "${expect}" (got: ` +
                    `${errors.join('; ') || 'no error'})`);
    }
  }
  return { failures, count: breaks.length + 1 };
}

function main() {
  const opt = parseArgs(process.argv.slice(2));
  const credSetup = readJson(opt.credentials);
  const ctx = {
    helper: opt.helper,
    spec: runHelper(opt.helper, ['spec'], ''),
    customers: loadCustomers(opt.customers),
    credentialFields: Object.keys(credSetup.credentialFields ?? {}),
    credentials: { ...credSetup.credentialFields, token: SECRET_B64,
                   baseUrl: `https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/${STAGE}` },
  };
  if (credSetup.type?.name !== 'userDefined') {
    throw new Error(`${opt.credentials}: the credential type must be userDefined`);
  }
  let failed = 0;
  let passed = 0;
  for (const file of opt.actions) {
    const action = readJson(file);
    if (opt.selfTest) {
      const { failures, count } = selfTest(action, ctx);
      for (const f of failures) console.log(`FAIL ${file}: ${f}`);
      failed += failures.length;
      passed += count - failures.length;
    } else {
      const errors = checkAction(action, ctx);
      for (const e of errors) console.log(`FAIL ${file}: ${e}`);
      if (errors.length) failed++;
      else passed++;
      console.log(`${errors.length ? 'not ok' : 'ok'} ${file}`);
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}

try {
  main();
} catch (e) {
  console.error(`check_genesys_action: ${e.message}`);
  process.exitCode = 1;
}
