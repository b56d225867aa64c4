/**
 * Parameter handling of `buildWithParameters` and `build` (reference §2.2, §2.3;
 * CORE hudson/model/ParametersDefinitionProperty.java, SimpleParameterDefinition.createValue,
 * String/Boolean/ChoiceParameterDefinition). Failures that Jenkins answers with an
 * uncaught exception (500 "Oops") are thrown as JenkinsException.
 */
import type { ContractParameter } from '../contract.js';
import type { ParamDef, ParamValue } from './model.js';

/** An error Jenkins would answer with a given status (500 for uncaught exceptions). */
export class JenkinsException extends Error {
  constructor(
    readonly status: number,
    readonly exceptionClass: string,
    message: string,
  ) {
    super(message);
  }
}

/** Declarative `parameters {}` of the emulated Jenkinsfile, from the contract. */
export function contractParamDefs(params: ContractParameter[]): ParamDef[] {
  return params.map((p) => {
    if (p.type === 'boolean') return { name: p.name, type: 'boolean', defaultValue: p.default === true, description: '' };
    if (p.type === 'choice') {
      const choices = p.choices ?? [];
      // The first choice is the default (ChoiceParameterDefinition).
      return { name: p.name, type: 'choice', choices, defaultValue: choices[0] ?? '', description: '' };
    }
    return { name: p.name, type: 'string', defaultValue: String(p.default ?? ''), description: '', trim: true };
  });
}

function createValue(def: ParamDef, raw: string): ParamValue {
  if (def.type === 'boolean') return { name: def.name, type: 'boolean', value: raw.toLowerCase() === 'true' }; // Boolean.parseBoolean
  if (def.type === 'choice') {
    if (!(def.choices ?? []).includes(raw)) {
      throw new JenkinsException(500, 'java.lang.IllegalArgumentException', `Illegal choice for parameter ${def.name}: ${raw}`);
    }
    return { name: def.name, type: 'choice', value: raw };
  }
  return { name: def.name, type: 'string', value: def.trim ? raw.trim() : raw };
}

/**
 * buildWithParameters: for each *defined* parameter take the submitted value, or the
 * default when absent; unknown names are ignored; two values for one name is a 500.
 */
export function valuesFromRequest(defs: ParamDef[], submitted: URLSearchParams): ParamValue[] {
  return defs.map((def) => {
    const values = submitted.getAll(def.name);
    if (values.length === 0) return { name: def.name, type: def.type, value: def.defaultValue };
    if (values.length > 1) {
      throw new JenkinsException(500, 'java.lang.IllegalArgumentException', `Illegal number of parameter values for ${def.name}: ${values.length}`);
    }
    return createValue(def, values[0]!);
  });
}

/** /build on a parameterized job: the `json` form field; no defaults are filled in. */
export function valuesFromJsonForm(defs: ParamDef[], json: string | null): ParamValue[] {
  if (json === null) throw new JenkinsException(400, 'javax.servlet.ServletException', 'This page expects a form submission');
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new JenkinsException(500, 'net.sf.json.JSONException', 'A JSONObject text must begin with \'{\'');
  }
  const raw = (parsed as { parameter?: unknown }).parameter;
  const list = (Array.isArray(raw) ? raw : raw ? [raw] : []) as { name?: unknown; value?: unknown }[];
  return list.map((p) => {
    const def = defs.find((d) => d.name === p.name);
    if (!def) throw new JenkinsException(500, 'java.lang.IllegalArgumentException', `No such parameter definition: ${String(p.name)}`);
    return createValue(def, typeof p.value === 'boolean' ? String(p.value) : String(p.value ?? ''));
  });
}

/**
 * `delay` (jenkins.util.TimeDuration.fromString): "10sec"/"10secs" are seconds, "2min"/"2mins"
 * minutes, a bare number is milliseconds. Scheduling truncates to whole seconds. Anything else is a 500.
 */
export function parseDelayMs(delay: string): number {
  const m = /^\s*(\d+)\s*(sec|secs|min|mins|ms)?\s*$/.exec(delay);
  if (!m) throw new JenkinsException(500, 'java.lang.IllegalArgumentException', `Invalid duration: ${delay}`);
  const n = Number(m[1]);
  const ms = m[2] === 'sec' || m[2] === 'secs' ? n * 1000 : m[2] === 'min' || m[2] === 'mins' ? n * 60_000 : n;
  return Math.floor(ms / 1000) * 1000;
}

export function sameParams(a: ParamValue[] | null, b: ParamValue[] | null): boolean {
  if (!a || !b) return a === b;
  if (a.length !== b.length) return false;
  return a.every((p) => b.some((q) => q.name === p.name && q.value === p.value));
}
