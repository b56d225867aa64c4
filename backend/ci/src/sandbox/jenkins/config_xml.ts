/**
 * Minimal job config.xml support for `POST /createItem?name=` and
 * `GET/POST /job/{name}/config.xml` (what jenkins/setup_job.py uses).
 * Read: description, disabled, DisableConcurrentBuildsJobProperty, and the
 * ParametersDefinitionProperty's String/Boolean/Choice definitions (other parameter types are ignored). Everything
 * else is kept verbatim and served back, but not interpreted: every job runs
 * the emulated WeSign-CI pipeline, since the sandbox cannot execute Groovy.
 */
import { createRequire } from 'node:module';
import type { XMLParser as XMLParserClass } from 'fast-xml-parser';
import type { ParamDef } from './model.js';

export interface ParsedConfig {
  description: string;
  disabled: boolean;
  concurrent: boolean;
  params: ParamDef[] | null;
}

export class ConfigXmlError extends Error {
  override name = 'ConfigXmlError';
}

const PARAM_TAGS: Record<string, ParamDef['type']> = {
  'hudson.model.StringParameterDefinition': 'string',
  'hudson.model.BooleanParameterDefinition': 'boolean',
  'hudson.model.ChoiceParameterDefinition': 'choice',
};

const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const text = (v: unknown): string => (v === undefined || v === null ? '' : typeof v === 'object' ? String((v as Record<string, unknown>)['#text'] ?? '') : String(v));

// fast-xml-parser is loaded at the first config.xml a client sends, not when the sandbox
// starts: its ES build is ~40 modules (several MB resident) that most sandbox sessions never
// use. require() (its CommonJS build, same version) keeps parseConfigXml synchronous.
let XMLParser: typeof XMLParserClass | undefined;
const xmlParser = () => (XMLParser ??= (createRequire(import.meta.url)('fast-xml-parser') as typeof import('fast-xml-parser')).XMLParser);

export function parseConfigXml(xml: string): ParsedConfig {
  const Parser = xmlParser();
  let doc: Record<string, unknown>;
  try {
    doc = new Parser({ ignoreAttributes: true, parseTagValue: false, trimValues: true, isArray: () => false }).parse(xml, true);
  } catch (err) {
    throw new ConfigXmlError(`config.xml is not well-formed XML: ${(err as Error).message}`);
  }
  const rootName = Object.keys(doc).find((k) => !k.startsWith('?'));
  if (!rootName) throw new ConfigXmlError('config.xml has no root element; send e.g. <flow-definition>…</flow-definition>');
  const root = (doc[rootName] ?? {}) as Record<string, unknown>;
  const props = (typeof root.properties === 'object' && root.properties ? root.properties : {}) as Record<string, unknown>;
  // Pipeline jobs build concurrently unless disableConcurrentBuilds(); freestyle ones only with <concurrentBuild>true.
  const noConcurrent = 'org.jenkinsci.plugins.workflow.job.properties.DisableConcurrentBuildsJobProperty' in props;
  const concurrent = !noConcurrent && (rootName === 'flow-definition' || text(root.concurrentBuild) === 'true');

  let params: ParamDef[] | null = null;
  const pdp = props['hudson.model.ParametersDefinitionProperty'] as Record<string, unknown> | undefined;
  if (pdp !== undefined) {
    params = [];
    const defs = (pdp && typeof pdp === 'object' ? pdp.parameterDefinitions : undefined) as Record<string, unknown> | undefined;
    for (const [tag, type] of Object.entries(PARAM_TAGS)) {
      for (const d of asArray(defs?.[tag] as Record<string, unknown> | Record<string, unknown>[] | undefined)) {
        const name = text(d.name);
        if (!name) throw new ConfigXmlError(`config.xml: a ${tag} has no <name>`);
        const def: ParamDef = { name, type, description: text(d.description), defaultValue: '' };
        if (type === 'boolean') def.defaultValue = text(d.defaultValue).toLowerCase() === 'true';
        if (type === 'string') {
          def.defaultValue = text(d.defaultValue);
          def.trim = text(d.trim) === 'true';
        }
        if (type === 'choice') {
          // <choices class="java.util.Arrays$ArrayList"><a class="string-array"><string>x</string>…</a></choices>, or newline-separated text.
          const c = d.choices as Record<string, unknown> | string | undefined;
          const strings = typeof c === 'object' && c ? asArray(((c.a as Record<string, unknown>) ?? c).string as string | string[]) : text(c).split(/\r?\n/);
          def.choices = strings.map((s) => text(s)).filter((s) => s !== '');
          def.defaultValue = def.choices[0] ?? '';
        }
        params.push(def);
      }
    }
    // The parser groups elements by tag; Jenkins keeps the document order, so restore it.
    const section = xml.slice(Math.max(0, xml.indexOf('<parameterDefinitions')));
    const at = (name: string) => {
      const i = section.indexOf(`<name>${name.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</name>`);
      return i < 0 ? Number.MAX_SAFE_INTEGER : i;
    };
    params.sort((a, b) => at(a.name) - at(b.name));
  }
  return { description: text(root.description), disabled: text(root.disabled) === 'true', concurrent, params };
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The config.xml a preconfigured sandbox job reports (a declarative Pipeline from SCM). */
export function renderConfigXml(opts: { description: string; params: ParamDef[] | null; concurrent: boolean; disabled: boolean }): string {
  const paramXml = (d: ParamDef): string => {
    if (d.type === 'boolean')
      return `<hudson.model.BooleanParameterDefinition><name>${esc(d.name)}</name><description>${esc(d.description)}</description><defaultValue>${d.defaultValue}</defaultValue></hudson.model.BooleanParameterDefinition>`;
    if (d.type === 'choice')
      return `<hudson.model.ChoiceParameterDefinition><name>${esc(d.name)}</name><description>${esc(d.description)}</description><choices class="java.util.Arrays$ArrayList"><a class="string-array">${(d.choices ?? []).map((c) => `<string>${esc(c)}</string>`).join('')}</a></choices></hudson.model.ChoiceParameterDefinition>`;
    return `<hudson.model.StringParameterDefinition><name>${esc(d.name)}</name><description>${esc(d.description)}</description><defaultValue>${esc(String(d.defaultValue))}</defaultValue><trim>${d.trim ? 'true' : 'false'}</trim></hudson.model.StringParameterDefinition>`;
  };
  return [
    "<?xml version='1.1' encoding='UTF-8'?>",
    '<flow-definition plugin="workflow-job">',
    `  <description>${esc(opts.description)}</description>`,
    '  <keepDependencies>false</keepDependencies>',
    '  <properties>',
    ...(opts.concurrent ? [] : ['    <org.jenkinsci.plugins.workflow.job.properties.DisableConcurrentBuildsJobProperty/>']),
    ...(opts.params
      ? ['    <hudson.model.ParametersDefinitionProperty>', '      <parameterDefinitions>', ...opts.params.map((d) => `        ${paramXml(d)}`), '      </parameterDefinitions>', '    </hudson.model.ParametersDefinitionProperty>']
      : []),
    '  </properties>',
    '  <definition class="org.jenkinsci.plugins.workflow.cps.CpsScmFlowDefinition" plugin="workflow-cps">',
    '    <scriptPath>Jenkinsfile</scriptPath>',
    '    <lightweight>true</lightweight>',
    '  </definition>',
    '  <triggers/>',
    `  <disabled>${opts.disabled ? 'true' : 'false'}</disabled>`,
    '</flow-definition>',
    '',
  ].join('\n');
}
