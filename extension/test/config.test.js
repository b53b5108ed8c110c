import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { normalizeConfig, originProblem, parseSelector, parseOrigin, parseServiceUrl, matchPatterns, loadConfig, DEFAULTS, DEFAULT_PORTAL_ORIGIN, serviceUrlFor } from '../src/shared/config.js';

test('parseOrigin_cases', () => {
  const cases = [
    ['https://manage-care-identities.care-identity-service2.nhs.uk', 'https://manage-care-identities.care-identity-service2.nhs.uk'],
    ['https://cis.example/', 'https://cis.example'],
    ['https://cis.example:8443', 'https://cis.example:8443'],
    ['http://127.0.0.1:8080', 'http://127.0.0.1:8080'],
    ['http://localhost:3000', 'http://localhost:3000'],
    ['http://cis.example', null],
    ['https://cis.example/path', null],
    ['https://user:pw@cis.example', null],
    ['https://cis.example?x=1', null],
    ['javascript:alert(1)', null],
    ['*://*/*', null],
    ['', null],
    [42, null],
  ];
  for (const [input, want] of cases) assert.equal(parseOrigin(input), want, String(input));
});

test('originProblem_wildcardsAndMalformedHostsAreNamed', () => {
  const cases = [
    ['https://*', 'wildcards'],
    ['https://*.nhs.uk', 'wildcards'],
    ['https://cis.*.nhs.uk', 'wildcards'],
    ['https://%2A', 'not valid'],
    ['https://cis_example.nhs.uk', 'not valid'],
    ['https://-cis.nhs.uk', 'not valid'],
    ['https://cis.nhs.uk.', 'ends with a dot'],
    ['https://cis..example', 'not valid'],
    ['https://cis.example/x', 'a path'],
    ['https://cis.example#f', 'fragment'],
    ['https://cis.example?', 'query'],
    ['https://u@cis.example', 'credentials'],
    ['http://cis.example', 'loopback'],
    ['ftp://cis.example', 'scheme'],
    ['not a url', 'not a URL'],
    [null, 'not a string'],
    ['https://' + 'a'.repeat(300), 'longer than 300'],
  ];
  for (const [input, needle] of cases) {
    const problem = originProblem(input);
    assert.ok(problem && problem.includes(needle), `${input}: ${problem}`);
    assert.equal(parseOrigin(input), null, String(input));
  }
  for (const ok of ['https://cis.example', 'https://xn--bcher-kva.example', 'https://10.0.0.1', 'https://[::1]:8443', 'http://[::1]:8080']) {
    assert.equal(originProblem(ok), null, ok);
  }
});

test('normalizeConfig_wildcardOriginIsRefusedWithItsProblemNamed', () => {
  const { config, problems } = normalizeConfig({ portalOrigins: ['https://*', 'https://cis.example'] });
  assert.deepEqual([...config.portalOrigins], ['https://cis.example']);
  assert.equal(problems.length, 1);
  assert.match(problems[0], /portalOrigins: ignored "https:\/\/\*" \(wildcards are not allowed/);
  const { config: none, problems: p2 } = normalizeConfig({ portalOrigins: ['https://*'] });
  assert.deepEqual([...none.portalOrigins], [DEFAULT_PORTAL_ORIGIN], 'a wildcard never widens the default');
  assert.equal(p2.length, 2);
  assert.equal(parseServiceUrl('https://*/est'), null);
  assert.equal(parseServiceUrl('https://ra_x.example/est'), null);
});

test('parseServiceUrl_keepsPathDropsTrailingSlash', () => {
  assert.equal(parseServiceUrl('https://ra.example/est/'), 'https://ra.example/est');
  assert.equal(parseServiceUrl('http://127.0.0.1:9000'), 'http://127.0.0.1:9000');
  assert.equal(parseServiceUrl('http://ra.example'), null);
});

test('normalizeConfig_cases', () => {
  const cases = [
    { raw: undefined, want: { ...DEFAULTS }, problems: 0 },
    { raw: {}, want: { ...DEFAULTS }, problems: 0 },
    {
      raw: { portalOrigins: ['http://127.0.0.1:8080', 'http://127.0.0.1:8080/'], renewalServiceUrl: 'http://127.0.0.1:8080', renewalWindowDays: 30, managedReader: 'Virtual PCD 00 01' },
      want: { portalOrigins: ['http://127.0.0.1:8080'], renewalServiceUrl: 'http://127.0.0.1:8080', renewalWindowDays: 30, managedReader: 'Virtual PCD 00 01', siteAdapter: DEFAULTS.siteAdapter },
      problems: 0,
    },
    { raw: { portalOrigins: 'https://cis.example' }, want: { ...DEFAULTS }, problems: 1 },
    { raw: { portalOrigins: ['ftp://x', 'https://ok.example'] }, want: { ...DEFAULTS, portalOrigins: ['https://ok.example'] }, problems: 1 },
    { raw: { portalOrigins: ['ftp://x'] }, want: { ...DEFAULTS }, problems: 2 },
    { raw: { renewalWindowDays: 0 }, want: { ...DEFAULTS }, problems: 1 },
    { raw: { renewalWindowDays: 2.5 }, want: { ...DEFAULTS }, problems: 1 },
    { raw: { renewalServiceUrl: 'http://evil.example' }, want: { ...DEFAULTS }, problems: 1 },
  ];
  for (const c of cases) {
    const { config, problems } = normalizeConfig(c.raw);
    assert.deepEqual({ ...config, portalOrigins: [...config.portalOrigins] }, { ...c.want, portalOrigins: [...c.want.portalOrigins] }, JSON.stringify(c.raw));
    assert.equal(problems.length, c.problems, JSON.stringify(problems));
    assert.ok(Object.isFrozen(config));
  }
});

test('matchPatterns_portsOnlyWhereSupported', () => {
  const origins = ['https://cis.example', 'http://127.0.0.1:8080'];
  assert.deepEqual(matchPatterns(origins), ['https://cis.example/*', 'http://127.0.0.1:8080/*']);
  assert.deepEqual(matchPatterns(origins, { withPorts: false }), ['https://cis.example/*', 'http://127.0.0.1/*']);
});

test('loadConfig_storageFailure_givesDefaults', async () => {
  const { config } = await loadConfig({ get: async () => { throw new Error('Managed storage manifest not found'); } });
  assert.deepEqual([...config.portalOrigins], [DEFAULT_PORTAL_ORIGIN]);
  const { config: c2 } = await loadConfig({ get: async () => ({ portalOrigins: ['http://127.0.0.1:1234'] }) });
  assert.deepEqual([...c2.portalOrigins], ['http://127.0.0.1:1234']);
  assert.equal(serviceUrlFor(c2, 'http://127.0.0.1:1234'), 'http://127.0.0.1:1234');
});

test('schema_declaresExactlyTheSettings', () => {
  const schema = JSON.parse(readFileSync(new URL('../schema.json', import.meta.url), 'utf8'));
  assert.deepEqual(Object.keys(schema.properties).sort(), Object.keys(DEFAULTS).sort());
  assert.equal(schema.properties.portalOrigins.type, 'array');
  assert.equal(schema.properties.renewalWindowDays.type, 'integer');
});

test('siteAdapter_selectorsAndMode_validatedLikeTheOtherSettings', () => {
  const good = normalizeConfig({ siteAdapter: { mode: 'menu', trigger: ' button[aria-label="Services"] ', list: '.cdk-overlay-container [role=menu] > div', item: 'button.mat-mdc-menu-item', cardSerial: '#card-serial-value', page: 'body.manage-card' } });
  assert.deepEqual(good.problems, []);
  assert.deepEqual({ ...good.config.siteAdapter }, { mode: 'menu', trigger: 'button[aria-label="Services"]', list: '.cdk-overlay-container [role=menu] > div', item: 'button.mat-mdc-menu-item', cardSerial: '#card-serial-value', page: 'body.manage-card' });
  assert.ok(Object.isFrozen(good.config.siteAdapter));

  const bad = normalizeConfig({ siteAdapter: { mode: 'script', trigger: 'a{color:red}', list: '<script>', item: 42, cardSerial: '@import x', page: 'x'.repeat(501), onOpen: 'alert(1)' } });
  assert.deepEqual({ ...bad.config.siteAdapter }, { ...DEFAULTS.siteAdapter }, 'every bad member falls back to the automatic search');
  assert.equal(bad.problems.length, 7, JSON.stringify(bad.problems));
  assert.ok(bad.problems.some((p) => p.startsWith('siteAdapter.onOpen: unknown setting')));
  assert.ok(bad.problems.some((p) => p.startsWith('siteAdapter.mode: not one of auto, menu, panel')));

  assert.deepEqual(normalizeConfig({ siteAdapter: 'auto' }).problems, ['siteAdapter: not an object; searching automatically']);
  assert.equal(normalizeConfig({}).config.siteAdapter, DEFAULTS.siteAdapter);
  assert.equal(parseSelector('main h2 + p > strong'), 'main h2 + p > strong');
  assert.equal(parseSelector('a\nb'), null);
});
