#!/usr/bin/env node
/*
 * check.js — checks hcp-gateway's public feed with third-party tools
 * (issue #5; docs/feed.md): a JSON page of GET /feed/requests.json against
 * docs/feed.schema.json with ajv (JSON Schema 2020-12, strict mode, formats
 * checked by ajv-formats), and a GET /feed/atom.xml document with
 * feedparser (strict XML, no resuming after an XML error).
 *
 * Usage: node check.js [--schema FILE] [--base URL] FILE...
 *   FILE ending in .json: a feed page (the bare array) to validate;
 *   any other FILE: an Atom document to parse.
 *   --schema  the JSON Schema (default: ../../docs/feed.schema.json beside
 *             this file, or $HCP_FEED_SCHEMA)
 *   --base    the URL the Atom document was fetched from (resolves its
 *             relative links)
 *
 * Prints one line per file, "json FILE entries=N" or "atom FILE entries=N",
 * and every problem found on stderr; exits 0 when all files pass, 1 when
 * any does not, 2 on a usage error.
 */
'use strict';

const fs = require('fs');
const path = require('path');
const Ajv2020 = require('ajv/dist/2020');
const addFormats = require('ajv-formats');
const FeedParser = require('feedparser');

const CASE_ID = /^63[0-9]{4}-[0-9]{8}-[0-9]{4,}$/;

/* The command line as {schema, base, files}; exits 2 on a usage error. */
function parseArgs(argv) {
  const opt = { schema: process.env.HCP_FEED_SCHEMA || '', base: '', files: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if ((a === '--schema' || a === '--base') && i + 1 < argv.length) {
      opt[a.slice(2)] = argv[++i];
    } else if (a.startsWith('--')) {
      usage('unknown option ' + a);
    } else {
      opt.files.push(a);
    }
  }
  if (!opt.schema) opt.schema = path.join(__dirname, '..', '..', 'docs', 'feed.schema.json');
  if (opt.files.length === 0) usage('no files given');
  return opt;
}

function usage(why) {
  process.stderr.write('check.js: ' + why + '\n' +
    'usage: node check.js [--schema FILE] [--base URL] FEED.json... ATOM.xml...\n');
  process.exit(2);
}

/* A compiled validator of the schema file; throws when the schema itself is
 * not valid 2020-12 or breaks a rule of ajv's strict mode. */
function compileSchema(file) {
  const ajv = new Ajv2020({ strict: true, allErrors: true, validateFormats: true });
  addFormats(ajv);
  return ajv.compile(JSON.parse(fs.readFileSync(file, 'utf8')));
}

/* Validate one JSON page; returns {entries, errors[]}. */
function checkJson(validate, file) {
  let data;
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    return { entries: 0, errors: ['not JSON: ' + e.message] };
  }
  const errors = [];
  if (!validate(data)) {
    for (const e of validate.errors.slice(0, 20)) {
      errors.push((e.instancePath || '/') + ' ' + e.message + ' ' + JSON.stringify(e.params));
    }
  }
  if (Array.isArray(data)) {
    // beyond the schema: one entry per case, newest update first
    const ids = new Set();
    for (let i = 0; i < data.length; i++) {
      const e = data[i] || {};
      if (ids.has(e.service_request_id)) errors.push('/' + i + ' repeats ' + e.service_request_id);
      ids.add(e.service_request_id);
      if (typeof e.service_request_id === 'string' && e.county !== e.service_request_id.slice(0, 6)) {
        errors.push('/' + i + ' county ' + e.county + ' is not that of ' + e.service_request_id);
      }
      if (i > 0 && Date.parse(data[i - 1].updated_datetime) < Date.parse(e.updated_datetime)) {
        errors.push('/' + i + ' is newer than the entry before it');
      }
    }
  }
  return { entries: Array.isArray(data) ? data.length : 0, errors };
}

/* Parse one Atom document with feedparser; resolves to {entries, errors[]}. */
function checkAtom(file, base) {
  return new Promise((resolve) => {
    const errors = [];
    const items = [];
    let meta = null;
    let settled = false;
    const done = () => {
      if (settled) return;
      settled = true;
      if (meta === null) errors.push('no feed metadata');
      else {
        if (meta['#type'] !== 'atom' || meta['#version'] !== '1.0') {
          errors.push('not Atom 1.0: ' + meta['#type'] + ' ' + meta['#version']);
        }
        if (!meta.title) errors.push('feed without a title');
        if (!(meta.date instanceof Date) || isNaN(meta.date)) errors.push('feed without <updated>');
      }
      items.forEach((it, i) => {
        const where = 'entry ' + i + ': ';
        const m = /^urn:hcp:case:([^:]+):[0-9]+$/.exec(it.guid || '');
        if (!m || !CASE_ID.test(m[1])) errors.push(where + 'bad id ' + it.guid);
        if (!it.title) errors.push(where + 'no title');
        if (!(it.date instanceof Date) || isNaN(it.date)) errors.push(where + 'no valid <updated>');
        /* the last alternate link, the readable case page (docs/page.md) */
        if (!it.link || !/(^|\/)case\.html\?id=/.test(it.link) || !m || !it.link.endsWith(m[1])) {
          errors.push(where + 'bad link ' + it.link);
        }
        if (!it.description) errors.push(where + 'no content');
      });
      resolve({ entries: items.length, errors });
    };
    const fp = new FeedParser({ strict: true, resume_saxerror: false, feedurl: base || undefined });
    fp.on('error', (e) => {
      errors.push('feedparser: ' + e.message.split('\n').join(' '));
      done();
    });
    fp.on('meta', (m) => {
      meta = m;
    });
    fp.on('readable', () => {
      let it;
      while ((it = fp.read()) !== null) items.push(it);
    });
    fp.on('end', done);
    const src = fs.createReadStream(file);
    src.on('error', (e) => {
      errors.push('read: ' + e.message);
      done();
    });
    src.pipe(fp);
  });
}

async function main() {
  const opt = parseArgs(process.argv.slice(2));
  let validate;
  try {
    validate = compileSchema(opt.schema);
  } catch (e) {
    process.stderr.write('check.js: schema ' + opt.schema + ': ' + e.message + '\n');
    return 1;
  }
  let failed = 0;
  for (const f of opt.files) {
    const isJson = f.endsWith('.json');
    const r = isJson ? checkJson(validate, f) : await checkAtom(f, opt.base);
    process.stdout.write((isJson ? 'json ' : 'atom ') + f + ' entries=' + r.entries + '\n');
    for (const e of r.errors) process.stderr.write('check.js: ' + f + ': ' + e + '\n');
    if (r.errors.length > 0) failed++;
  }
  return failed > 0 ? 1 : 0;
}

main().then((code) => process.exit(code), (e) => {
  process.stderr.write('check.js: ' + (e && e.stack ? e.stack : e) + '\n');
  process.exit(1);
});
