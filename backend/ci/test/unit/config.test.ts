import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { CONTRACT_STAGES, STAGE_IDS } from '../../src/ci/models.js';

describe('configuration', () => {
  it('defaults to the SPEC variables for WeSign/DevTest', () => {
    const c = loadConfig({});
    expect(c.environments).toHaveLength(1);
    expect(c.environments[0]).toMatchObject({
      APP_NAME: 'WeSign',
      ENV_NAME: 'DevTest',
      JENKINS_JOB_NAME: 'WeSign-CI',
      IIS_APP_POOLS: ['UserApi', 'SignerApi', 'ManagementApi', 'DefaultAppPool', 'PdfConvertorService'],
      DEPLOY_DIR: 'C:\\inetpub\\WeSign',
      SMOKE_URLS: ['http://DevTest/health', 'http://DevTest/WeSignManagement/health'],
    });
    expect(c.port).toBe(8080);
    expect(c.host).toBe('127.0.0.1');
    expect(c.scoreThreshold).toBe(80);
    expect(c.scoreWeights).toEqual({ build: 20, smoke: 20, api: 30, e2e: 30 });
  });

  it('stops with a message naming a malformed variable', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(ConfigError);
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT/);
    expect(() => loadConfig({ RUN_SCORE_THRESHOLD: '120' })).toThrow(/RUN_SCORE_THRESHOLD/);
    expect(() => loadConfig({ SMOKE_URLS: '["not a url"]' })).toThrow(/SMOKE_URLS/);
    expect(() => loadConfig({ SCORE_WEIGHTS: 'build=x' })).toThrow(/SCORE_WEIGHTS/);
  });

  it('needs Jenkins credentials with JENKINS_URL and refuses credentials inside the URL', () => {
    expect(() => loadConfig({ JENKINS_URL: 'http://jenkins:8080/' })).toThrow(/JENKINS_USER or JENKINS_API_TOKEN/);
    expect(() => loadConfig({ JENKINS_URL: 'http://u:fake-pass@jenkins/', JENKINS_USER: 'u', JENKINS_API_TOKEN: 'fake-token' })).toThrow(/must not contain credentials/);
  });

  it('reads .env files, with real environment variables winning, and never exposes secrets except to the redactor', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'qaci-cfg-'));
    const file = path.join(dir, '.env');
    writeFileSync(file, '# comment\nPORT=9090\nJENKINS_URL=http://jenkins.example:8080/\nJENKINS_USER=svc\nJENKINS_API_TOKEN="fake-token-from-file"\nDEPLOY_DIR=C:\\inetpub\\WeSign\n');
    const c = loadConfig({ PORT: '9191' }, [file]);
    expect(c.port).toBe(9191);
    expect(c.jenkins.url).toBe('http://jenkins.example:8080/');
    expect(c.environments[0]!.DEPLOY_DIR).toBe('C:\\inetpub\\WeSign');
    expect(c.secrets).toContain('fake-token-from-file');
  });

  it('adds environments from CI_ENVIRONMENTS_FILE and refuses duplicates', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'qaci-cfg-'));
    const file = path.join(dir, 'envs.json');
    writeFileSync(file, JSON.stringify([{ ENV_NAME: 'QA', DEVTEST_SERVER: 'QA01', SMOKE_URLS: ['http://QA01/health'] }]));
    const c = loadConfig({ CI_ENVIRONMENTS_FILE: file });
    expect(c.environments.map((e) => `${e.APP_NAME}/${e.ENV_NAME}`)).toEqual(['WeSign/DevTest', 'WeSign/QA']);
    writeFileSync(file, JSON.stringify([{ ENV_NAME: 'DevTest' }]));
    expect(() => loadConfig({ CI_ENVIRONMENTS_FILE: file })).toThrow(/defined twice/);
  });

  it('keeps the stage ids of models.ts equal to contract/pipeline.json', () => {
    expect(CONTRACT_STAGES.map((s) => s.id)).toEqual([...STAGE_IDS]);
  });
});
