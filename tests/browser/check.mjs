// The HTML page in a real Chromium (Debian's, driven by puppeteer-core over the DevTools
// protocol): its structure, its Content-Security-Policy, the form with and without JavaScript,
// a bad input, screenshots at a phone's and a desktop's width in light and dark, axe-core's
// accessibility rules, and, in its own mode, the page's refresh.
//
//   node tests/browser/check.mjs PAGE-URL DOOR SCREENSHOT-DIR [--refresh-seconds S]
//
// PAGE-URL is the door's function URL (the page is what it answers a browser). DOOR names the
// screenshots, DOOR-WIDTH-{light,dark}.png in SCREENSHOT-DIR. With --refresh-seconds, the page is
// kept open S seconds instead, and its own re-fetches are counted by status. Prints one JSON line
// on success; exits 1 with every failure listed otherwise.
//
// WX_BROWSER_MODULES: the node_modules folder tests/browser/install filled (default: the one it
// fills by default). WX_CHROMIUM: the browser (default /usr/bin/chromium).

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import path from 'node:path';

const started = Date.now();

function die(message) {
  process.stderr.write(`check.mjs: ${message}\n`);
  process.exit(1);
}

// ---- arguments and what they need ----

const usage = 'usage: node tests/browser/check.mjs PAGE-URL DOOR SCREENSHOT-DIR [--refresh-seconds S]';
const args = process.argv.slice(2);
let refreshSeconds = null;
const positional = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--refresh-seconds') {
    refreshSeconds = Number(args[++i]);
    if (!(refreshSeconds > 0)) die(`--refresh-seconds takes a number of seconds above 0\n${usage}`);
  } else if (args[i].startsWith('--')) {
    die(`unknown option ${args[i]}\n${usage}`);
  } else {
    positional.push(args[i]);
  }
}
if (positional.length !== 3) die(usage);
const [pageUrl, door, screenshotDir] = positional;
try {
  new URL(pageUrl);
} catch {
  die(`${pageUrl} is not a URL\n${usage}`);
}

const cache = process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache');
const modules = process.env.WX_BROWSER_MODULES || path.join(cache, 'wx-stats', 'browser', 'node_modules');
for (const name of ['puppeteer-core', 'axe-core']) {
  if (!existsSync(path.join(modules, name, 'package.json'))) {
    die(
      `${name} is not installed in ${modules}: run tests/browser/install (npm ci of ` +
        `tests/browser/package-lock.json), and point WX_BROWSER_MODULES at the node_modules it prints`,
    );
  }
}
// Resolved from the folder that holds node_modules, as if this script lived there.
const require = createRequire(path.join(path.dirname(modules), 'check.cjs'));
const puppeteer = require('puppeteer-core');
const axeSource = require('axe-core').source;
const versions = Object.fromEntries(
  ['puppeteer-core', 'axe-core'].map((name) => [
    name,
    JSON.parse(readFileSync(path.join(modules, name, 'package.json'), 'utf8')).version,
  ]),
);

const chromium = process.env.WX_CHROMIUM || '/usr/bin/chromium';
if (!existsSync(chromium)) {
  die(`no Chromium at ${chromium}: install Debian's (as root: apt-get install chromium), or set WX_CHROMIUM`);
}

// ---- what goes wrong ----

/** Every failure, with the steps it happened in; all are printed at the end, each once. */
const failures = new Map();
let step = 'start';
function fail(message) {
  const steps = failures.get(message) ?? [];
  if (!steps.includes(step)) steps.push(step);
  failures.set(message, steps);
}
/** A failure after which nothing else is worth checking. */
class Stop extends Error {}
function expect(condition, message) {
  if (!condition) fail(typeof message === 'function' ? message() : message);
  return Boolean(condition);
}

// Nothing here may hang: the whole check has a deadline, after which it reports what it has.
const deadline = 180 + (refreshSeconds ?? 0);
const watchdog = setTimeout(() => {
  fail(`the check did not finish within ${deadline} s`);
  report(null);
}, deadline * 1000);

let browser = null;
async function report(summary) {
  clearTimeout(watchdog);
  if (browser) {
    const closing = browser.close().catch(() => {});
    await Promise.race([closing, new Promise((resolve) => setTimeout(resolve, 5000))]);
    browser.process()?.kill('SIGKILL');
  }
  if (failures.size) {
    process.stderr.write(`check.mjs: ${door} at ${pageUrl}: ${failures.size} failure(s)\n`);
    for (const [failure, steps] of failures) {
      process.stderr.write(`  - [${steps.join(', ')}] ${failure.replaceAll('\n', '\n    ')}\n`);
    }
    process.exit(1);
  }
  console.log(JSON.stringify({ door, url: pageUrl, ...summary, seconds: (Date.now() - started) / 1000 }));
  process.exit(0);
}

// ---- watching a page ----

// A CSP violation is reported twice: by the page's `securitypolicyviolation` event (installed
// before any of its own scripts, and logged here as a console error with this prefix) and by
// Chromium's own console message. The first needs JavaScript; the second is there either way.
const VIOLATION = 'securitypolicyviolation:';

/** Set while the check navigates on purpose: requests cut short by that are no failure. */
let navigating = false;
/** A console error that the current step expects, e.g. the 400 of a bad input's navigation. */
let expectedConsole = null;

async function watched(page) {
  page.setDefaultTimeout(20_000);
  page.on('console', (message) => {
    const text = message.text();
    const csp = /content.security.policy/i.test(text) || text.startsWith(VIOLATION);
    if (message.type() !== 'error' && !csp) return;
    if (!csp && expectedConsole?.(text, message.location())) return;
    const where = message.location()?.url ? ` (${message.location().url}:${message.location().lineNumber ?? '?'})` : '';
    fail(`${csp ? 'CSP violation' : 'console error'}: ${text}${where}`);
  });
  page.on('pageerror', (error) => fail(`page error: ${error.message ?? error}`));
  page.on('requestfailed', (request) => {
    const why = request.failure()?.errorText ?? 'unknown';
    // Cut short by a navigation of the check's own, or after its answer came (a 304 whose
    // empty body nobody read is "aborted" when the page lets its Response go): no failure.
    if (why === 'net::ERR_ABORTED' && (navigating || request.response())) return;
    fail(`request failed: ${request.method()} ${request.url()}: ${why}`);
  });
  await page.evaluateOnNewDocument((prefix) => {
    document.addEventListener('securitypolicyviolation', (event) => {
      console.error(
        `${prefix} ${event.effectiveDirective} blocked ${event.blockedURI || '(inline)'} ` +
          `at ${event.sourceFile || '?'}:${event.lineNumber}; sample: ${JSON.stringify(event.sample)}`,
      );
    });
  }, VIOLATION);
  return page;
}

/** Goes to `url` (or does `action`, which navigates), waiting for the load; the main response. */
async function navigation(page, urlOrAction) {
  navigating = true;
  try {
    if (typeof urlOrAction === 'string') return await page.goto(urlOrAction, { waitUntil: 'load' });
    const [response] = await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), urlOrAction()]);
    return response;
  } finally {
    navigating = false;
  }
}

// ---- what a page shows ----

/** The page as the contract names its parts, read in the page (also with its scripts off). */
function describe() {
  const one = (selector) => document.querySelector(selector);
  const all = (selector, root = document) => [...root.querySelectorAll(selector)];
  const text = (element) => (element ? element.textContent.replace(/\s+/g, ' ').trim() : null);
  const svg = one('figure#chart svg');
  const table = one('table#buckets');
  const form = one('form#ask');
  const field = (name) => {
    const input = form?.querySelector(`[name="${name}"]`);
    return input
      ? { tag: input.tagName.toLowerCase(), type: input.type, value: input.value, attribute: input.getAttribute('value'), checked: input.checked }
      : null;
  };
  return {
    lang: document.documentElement.getAttribute('lang'),
    title: document.title.trim(),
    mains: all('main').length,
    h1s: all('h1').length,
    refresh: document.body.dataset.refresh ?? null,
    inlineStyles: all('style').map((element) => element.textContent),
    inlineScripts: all('script').filter((element) => !element.src).map((element) => element.textContent),
    externalScripts: all('script[src]').length,
    styleAttributes: all('[style]').length,
    chart: svg && {
      role: svg.getAttribute('role'),
      name: svg.getAttribute('aria-label') || text(svg.querySelector('title')) || svg.getAttribute('aria-labelledby'),
      markup: svg.outerHTML,
      // Bars are told apart by their colour, as a person sees them.
      rects: all('rect', svg).map((rect) => getComputedStyle(rect).fill),
    },
    figcaption: text(one('figure#chart figcaption')),
    table: table && {
      caption: text(table.querySelector('caption')),
      head: all('thead th, thead td', table).map(text),
      rows: all('tbody tr', table).map((row) => all('th, td', row).map(text)),
      foot: text(table.querySelector('tfoot')),
    },
    form: form && {
      method: form.getAttribute('method'),
      action: form.getAttribute('action'),
      hours: field('hours'),
      interval: field('interval'),
      field: field('field'),
      fill: field('fill'),
      submit: Boolean(form.querySelector('button[type="submit"]')),
    },
    links: all('nav#formats a').map((a) => ({ text: text(a), href: a.getAttribute('href') })),
    problem: one('#problem') && { role: one('#problem').getAttribute('role'), text: text(one('#problem')) },
    scrollWidth: document.documentElement.scrollWidth,
  };
}

/** A cell's number: `61.5`, `1,234`, `−3` (a typographic minus) all read. */
function number(cell) {
  return Number(String(cell).replace(/\u2212/g, '-').replace(/[,\s\u202f]/g, ''));
}

/** The page's own parts, as the contract has them; `problem`: the bad input's page. */
function checkStructure(page, { problem = false } = {}) {
  expect(page.lang === 'en', `<html lang> is ${JSON.stringify(page.lang)}, not "en"`);
  expect(page.title, 'the page has no <title>');
  expect(page.mains === 1, `${page.mains} <main> elements, not one`);
  expect(page.h1s === 1, `${page.h1s} <h1> elements, not one`);
  expect(page.externalScripts === 0, `${page.externalScripts} external scripts: the page has one inline script`);
  expect(page.inlineScripts.length === 1, `${page.inlineScripts.length} inline scripts, not one`);
  expect(page.inlineStyles.length === 1, `${page.inlineStyles.length} inline <style> elements, not one`);
  expect(page.styleAttributes === 0, `${page.styleAttributes} style="" attributes, which the CSP's hashes do not allow`);
  expect(/^\d+$/.test(page.refresh ?? ''), `<body data-refresh> is ${JSON.stringify(page.refresh)}, not a number of seconds`);
  const form = page.form;
  if (expect(form, 'no <form id="ask">')) {
    expect(form.method?.toLowerCase() === 'get', `the form's method is ${JSON.stringify(form.method)}, not get`);
    for (const [name, type] of [['hours', 'number'], ['interval', 'number'], ['field', 'text'], ['fill', 'checkbox']]) {
      const input = form[name];
      if (expect(input, `the form has no input named ${name}`)) {
        expect(input.tag === 'input' && input.type === type, `the form's ${name} is <${input.tag} type=${input.type}>, not <input type=${type}>`);
      }
    }
    if (form.fill) expect(form.fill.attribute === 'true', `the fill checkbox's value is ${JSON.stringify(form.fill.attribute)}, not "true"`);
    expect(form.submit, 'the form has no <button type="submit">');
  }
  if (problem) {
    if (expect(page.problem, 'no #problem element')) {
      expect(page.problem.role === 'alert', `#problem has role=${JSON.stringify(page.problem.role)}, not "alert"`);
    }
    return;
  }
  expect(!page.problem, () => `a #problem on a good page: ${page.problem.text}`);
  const chart = page.chart;
  if (expect(chart, 'no <svg> in <figure id="chart">')) {
    expect(chart.role === 'img', `the chart's svg has role=${JSON.stringify(chart.role)}, not "img"`);
    expect(chart.rects.length >= 1, 'the chart has no <rect>');
  }
  expect(page.figcaption, 'the chart has no <figcaption>');
  const table = page.table;
  if (expect(table, 'no <table id="buckets">')) {
    expect(table.caption, 'the table has no <caption>');
    const head = table.head.join(' | ');
    for (const [i, name] of ['From', 'To', 'Observations'].entries()) {
      expect(table.head[i]?.includes(name), `the table's head is ${JSON.stringify(head)}: column ${i + 1} is not ${name}`);
    }
    expect(table.rows.length >= 1, 'the table has no rows');
    const shapes = table.rows.filter((row) => row.length !== 3 || row.some((cell) => Number.isNaN(number(cell))));
    expect(!shapes.length, () => `rows that are not three numbers (from, to, count): ${JSON.stringify(shapes.slice(0, 3))}`);
    const total = table.rows.reduce((sum, row) => sum + number(row[2]), 0);
    expect(
      (table.foot ?? '').match(/[\d,.\u202f]+/g)?.some((word) => number(word) === total),
      `the table's foot ${JSON.stringify(table.foot)} does not hold the total of its counts, ${total}`,
    );
    // One bar per non-empty bucket (the chart leaves empty ones as gaps): some colour is that
    // of exactly as many rects. With every bucket empty there is no bar to count.
    const nonEmpty = table.rows.filter((row) => number(row[2]) > 0).length;
    if (chart && nonEmpty) {
      const colours = {};
      for (const fill of chart.rects) colours[fill] = (colours[fill] ?? 0) + 1;
      expect(
        Object.values(colours).includes(nonEmpty),
        `${nonEmpty} non-empty buckets in the table, but no colour of the chart's rects has that many: ${JSON.stringify(colours)}`,
      );
    }
  }
  const names = page.links.map((link) => link.text).join(', ');
  for (const format of ['JSON', 'CSV', 'SVG']) {
    const link = page.links.find((l) => l.text?.includes(format));
    if (expect(link, `nav#formats has no ${format} link (it has: ${names})`)) {
      expect(link.href?.startsWith('?'), `the ${format} link's href ${JSON.stringify(link.href)} is not a relative query string`);
    }
  }
}

/** The navigation's headers, and the CSP's hashes against the inline style and script. */
function checkHeaders(response, page) {
  const headers = response.headers();
  expect((headers['content-type'] ?? '').startsWith('text/html'), `Content-Type ${JSON.stringify(headers['content-type'])}, not text/html`);
  expect(headers['x-content-type-options'] === 'nosniff', `X-Content-Type-Options ${JSON.stringify(headers['x-content-type-options'])}, not nosniff`);
  expect(headers['referrer-policy'] === 'no-referrer', `Referrer-Policy ${JSON.stringify(headers['referrer-policy'])}, not no-referrer`);
  const csp = headers['content-security-policy'];
  if (!expect(csp, 'no Content-Security-Policy header')) return;
  const directives = Object.fromEntries(
    csp.split(';').map((d) => d.trim().split(/\s+/)).filter((d) => d[0]).map(([name, ...values]) => [name.toLowerCase(), values]),
  );
  expect(directives['default-src']?.join(' ') === "'none'", `the CSP's default-src is not 'none': ${csp}`);
  const sha = (text) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
  for (const [kind, texts, directive] of [['<style>', page.inlineStyles, 'style-src'], ['<script>', page.inlineScripts, 'script-src']]) {
    const allowed = directives[directive] ?? directives['default-src'] ?? [];
    expect(!allowed.includes("'unsafe-inline'"), `the CSP's ${directive} allows 'unsafe-inline': ${csp}`);
    for (const text of texts) {
      expect(allowed.includes(sha(text)), `the inline ${kind}'s hash ${sha(text)} is not in the CSP's ${directive}: ${csp}`);
    }
  }
}

/** The rows of the page's own CSV link, and that its JSON and SVG links answer their types. */
async function checkFormats(page, base) {
  const csv = [];
  for (const [format, type] of [['JSON', 'application/json'], ['CSV', 'text/csv'], ['SVG', 'image/svg+xml']]) {
    const link = page.links.find((l) => l.text?.includes(format));
    if (!link?.href) continue;
    const url = new URL(link.href, base);
    const answer = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    const body = await answer.text();
    const got = answer.headers.get('content-type') ?? '';
    if (!expect(answer.status === 200 && got.startsWith(type), `the ${format} link ${url} answered ${answer.status} ${got}, not 200 ${type}: ${body.slice(0, 200)}`)) continue;
    if (format === 'CSV') {
      csv.push(...body.trim().split(/\r?\n/).slice(1).map((line) => line.split(',').map(Number)));
    }
  }
  return csv;
}

/** The table against the CSV the page links to: the same buckets, row for row. */
function checkTableAgainst(csv, page) {
  const rows = page.table?.rows ?? [];
  if (!expect(rows.length === csv.length, `the table has ${rows.length} rows, the page's CSV link ${csv.length} buckets`)) return;
  const close = (a, b) => Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b));
  const differ = rows.findIndex((row, i) => !row.every((cell, j) => close(number(cell), csv[i][j])));
  expect(differ < 0, () => `table row ${differ + 1} ${JSON.stringify(rows[differ])} is not the CSV's ${JSON.stringify(csv[differ])}`);
}

// ---- the checks ----

/** axe-core's rules on the page as it is shown now; each violation with the nodes it names. */
async function accessibility(page, label) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) {
    // By DevTools evaluation, which the page's CSP does not govern; the CSP itself stays on.
    await page.evaluate(axeSource);
  }
  const results = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  for (const violation of results.violations) {
    const nodes = violation.nodes.map((node) => node.target.join(' ')).join('; ');
    fail(`axe (${label}): ${violation.id} (${violation.impact}): ${violation.help}; nodes: ${nodes}`);
  }
  return results.violations.length;
}

const WIDTHS = [
  { width: 390, height: 844, deviceScaleFactor: 2, isMobile: true, hasTouch: true },
  { width: 1280, height: 800, deviceScaleFactor: 1 },
];
const SCHEMES = ['light', 'dark'];

async function fullCheck() {
  const summary = { chromium: await browser.version(), ...versions };
  mkdirSync(screenshotDir, { recursive: true });
  const page = await watched(await browser.newPage());
  await page.setViewport(WIDTHS[1]);

  step = 'page';
  const response = await navigation(page, pageUrl);
  const type = response?.headers()['content-type'] ?? '';
  if (!type.startsWith('text/html')) {
    const body = (await response?.text().catch(() => '')) ?? '';
    throw new Stop(`GET ${pageUrl}, as a browser asks, answered ${response?.status()} ${type}, not a page: ${body.slice(0, 300)}`);
  }
  expect(response.status() === 200, `GET ${pageUrl} answered ${response.status()}, not 200`);
  const first = await page.evaluate(describe);
  checkStructure(first);
  checkHeaders(response, first);
  const csv = await checkFormats(first, page.url());
  checkTableAgainst(csv, first);
  summary.buckets = first.table?.rows.length ?? 0;
  summary.refresh = Number(first.refresh);
  // ?format=html answers the page to a client that asks for no type in particular.
  const asked = new URL(pageUrl);
  asked.searchParams.set('format', 'html');
  const html = await fetch(asked, { headers: { accept: '*/*' }, signal: AbortSignal.timeout(10_000) });
  await html.arrayBuffer();
  expect(html.status === 200 && (html.headers.get('content-type') ?? '').startsWith('text/html'), `${asked} answered ${html.status} ${html.headers.get('content-type')}, not 200 text/html`);

  step = 'screenshots and axe';
  summary.screenshots = [];
  summary.axe = { runs: 0, violations: 0 };
  for (const viewport of WIDTHS) {
    await page.setViewport(viewport);
    for (const scheme of SCHEMES) {
      await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: scheme }]);
      const label = `${viewport.width} px, ${scheme}`;
      const file = path.join(screenshotDir, `${door}-${viewport.width}-${scheme}.png`);
      await page.screenshot({ path: file, fullPage: true, captureBeyondViewport: true });
      summary.screenshots.push(file);
      if (viewport.width === 390) {
        const width = await page.evaluate(() => document.documentElement.scrollWidth);
        expect(width <= 390, `at 390 px (${scheme}) the page scrolls sideways: it is ${width} px wide`);
      }
      summary.axe.violations += await accessibility(page, label);
      summary.axe.runs += 1;
    }
  }
  await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: 'light' }]);
  await page.setViewport(WIDTHS[1]);

  step = 'form';
  const interval = Number(first.form?.interval?.value);
  const other = interval === 1 ? 2 : 1;
  await submitInterval(page, first, other, summary, 'form');

  step = 'bad input';
  const bad = new URL(pageUrl);
  bad.searchParams.set('interval', '-1');
  expectedConsole = (text, location) => /status of 400/.test(text) && location?.url === bad.href;
  const refused = await navigation(page, bad.href);
  expectedConsole = null;
  expect(refused?.status() === 400, `GET ${bad} answered ${refused?.status()}, not 400`);
  const problem = await page.evaluate(describe);
  checkStructure(problem, { problem: true });
  if (refused) checkHeaders(refused, problem);
  expect(problem.problem?.text?.includes('interval'), `#problem does not name interval: ${JSON.stringify(problem.problem?.text)}`);
  expect(problem.form?.interval?.value === '-1', `the form's interval holds ${JSON.stringify(problem.form?.interval?.value)}, not the -1 sent`);
  summary.problem = problem.problem?.text;
  summary.axe.violations += await accessibility(page, 'bad input');
  summary.axe.runs += 1;
  await page.close();

  step = 'without JavaScript';
  // A context of its own, as a first visit: nothing in its cache from the pages above.
  const fresh = await browser.createBrowserContext();
  const plain = await watched(await fresh.newPage());
  await plain.setJavaScriptEnabled(false);
  await plain.setViewport(WIDTHS[1]);
  const noScript = await navigation(plain, pageUrl);
  expect(noScript?.status() === 200, `GET ${pageUrl} without JavaScript answered ${noScript?.status()}, not 200`);
  const still = await plain.evaluate(describe);
  checkStructure(still);
  await submitInterval(plain, still, other, {}, 'form without JavaScript');
  await fresh.close();
  return summary;
}

/**
 * Types `interval` into the form's interval input and clicks its submit button, as a person
 * would: the next page must be the same path asked for that interval, and its chart and table
 * another histogram.
 */
async function submitInterval(page, before, interval, summary, label) {
  const input = await page.$('form#ask input[name="interval"]');
  const button = await page.$('form#ask button[type="submit"]');
  if (!expect(input && button, 'no interval input or submit button to use')) return;
  await input.click({ count: 3 });
  await page.keyboard.press('Backspace');
  await input.type(String(interval));
  const answered = await navigation(page, () => button.click());
  expect(answered?.status() === 200, `the form's submission answered ${answered?.status()}, not 200`);
  const sent = new URL(page.url());
  const from = new URL(pageUrl);
  expect(sent.pathname === from.pathname, `the form went to ${sent.pathname}, not the page's own ${from.pathname}`);
  expect(sent.searchParams.get('interval') === String(interval), `the form sent ${sent.search}, not interval=${interval}`);
  for (const name of ['hours', 'field']) expect(sent.searchParams.has(name), `the form sent ${sent.search}, without ${name}`);
  const after = await page.evaluate(describe);
  checkStructure(after);
  expect(after.chart?.markup !== before.chart?.markup, `after interval=${interval} (${label}), the chart's svg is the same as before`);
  expect(
    after.table?.rows.length !== before.table?.rows.length,
    `after interval=${interval} (${label}), the table still has ${after.table?.rows.length} rows`,
  );
  expect(after.form?.interval?.value === String(interval), `after the submission the form's interval holds ${JSON.stringify(after.form?.interval?.value)}, not ${interval}`);
  summary.submitted = { url: page.url(), buckets: after.table?.rows.length ?? 0 };
}

/** The page left open `refreshSeconds`: its own re-fetches, by status. */
async function refreshCheck() {
  step = 'refresh';
  const page = await watched(await browser.newPage());
  await page.setViewport(WIDTHS[1]);
  const statuses = {};
  const seen = [];
  page.on('response', (response) => {
    const request = response.request();
    if (request.isNavigationRequest()) return;
    statuses[response.status()] = (statuses[response.status()] ?? 0) + 1;
    seen.push(`${request.method()} ${request.url()} ${response.status()}`);
  });
  const response = await navigation(page, pageUrl);
  expect(response?.status() === 200, `GET ${pageUrl} answered ${response?.status()}, not 200`);
  const refresh = Number(await page.evaluate(() => document.body.dataset.refresh));
  if (!expect(refresh > 0 && refresh * 2 <= refreshSeconds, `<body data-refresh> is ${refresh}: for ${refreshSeconds} s it needs to be between 1 and ${Math.floor(refreshSeconds / 2)} (start the door with a short CACHE_TTL)`)) {
    return { refresh };
  }
  // Which of its parts the page swapped for fresh ones: marks only these objects carry.
  const PARTS = ['main', '#chart', '#buckets', '#ask'];
  await page.evaluate((parts) => {
    for (const part of parts) {
      const element = document.querySelector(part);
      if (element) element.wxKept = true;
    }
  }, PARTS);
  await new Promise((resolve) => setTimeout(resolve, refreshSeconds * 1000));
  const replaced = await page.evaluate(
    (parts) => parts.filter((part) => document.querySelector(part)?.wxKept !== true),
    PARTS,
  );
  const fetches = Object.values(statuses).reduce((a, b) => a + b, 0);
  const counts = { seconds: refreshSeconds, refresh, fetches, statuses, replaced };
  console.log(JSON.stringify({ door, refresh: counts }));
  expect(fetches >= 2, `${fetches} re-fetches in ${refreshSeconds} s with data-refresh=${refresh}, not at least 2`);
  expect((statuses[200] ?? 0) <= 1, `${statuses[200]} re-fetches answered 200, not at most one (the rest 304): ${seen.join('; ')}`);
  const others = Object.keys(statuses).filter((s) => s !== '200' && s !== '304');
  expect(!others.length, `re-fetches answered ${others.join(', ')}: ${seen.join('; ')}`);
  // A 200 may bring a new answer, which the page shows; a 304 has nothing to show.
  expect(!replaced.length || statuses[200], `the page replaced ${replaced.join(', ')} though every answer was a 304`);
  await page.close();
  return { refresh: counts };
}

try {
  step = 'launch';
  browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    // CI runs as root, where Chromium's sandbox cannot start.
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
    // Over a pipe, Chromium ends with this process, however it ends.
    pipe: true,
    timeout: 30_000,
  });
  const summary = refreshSeconds ? await refreshCheck() : await fullCheck();
  await report(summary);
} catch (error) {
  fail(error instanceof Stop ? error.message : `${error.stack ?? error}`);
  await report(null);
}
