/**
 * The pipeline contract (contract/pipeline.json) as the sandbox reads it. The
 * emulated job takes its parameters, stage names, stage ids and the simulated
 * DevTest endpoints from here, never from constants of its own, so that a
 * change to the contract moves the sandbox with the Jenkinsfile and the backend.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ContractParameter {
  name: string;
  type: 'string' | 'boolean' | 'choice';
  default?: string | boolean;
  choices?: string[];
}

export interface ContractStage {
  id: string;
  jenkins: string[];
  dryRun: 'runs' | 'skipped';
  rollbackAction: 'runs' | 'skipped';
}

export interface ContractEndpoint {
  path: string;
  body: Record<string, string>;
}

export interface PipelineContract {
  parameters: ContractParameter[];
  stages: ContractStage[];
  parallelGroup: { name: string; children: string[] };
  artifacts: string[];
  simulatedDevTest: { endpoints: ContractEndpoint[] };
}

/** The repository root (four levels up from backend/ci/src/sandbox). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
export const CONTRACT_FILE = path.join(REPO_ROOT, 'contract', 'pipeline.json');

let cached: PipelineContract | null = null;

export function loadContract(file = CONTRACT_FILE): PipelineContract {
  if (cached && file === CONTRACT_FILE) return cached;
  const raw = JSON.parse(readFileSync(file, 'utf8')) as PipelineContract;
  if (!Array.isArray(raw.parameters) || !Array.isArray(raw.stages) || !raw.simulatedDevTest?.endpoints) {
    throw new Error(`${file} is not a pipeline contract: it needs parameters[], stages[] and simulatedDevTest.endpoints[]`);
  }
  if (file === CONTRACT_FILE) cached = raw;
  return raw;
}

/** Stage id for a Jenkins stage name ("Backup & Deploy" → "deploy"). */
export function stageIdOf(contract: PipelineContract, jenkinsName: string): string | undefined {
  return contract.stages.find((s) => s.jenkins.includes(jenkinsName))?.id;
}

export function stageById(contract: PipelineContract, id: string): ContractStage {
  const s = contract.stages.find((x) => x.id === id);
  if (!s) throw new Error(`contract/pipeline.json has no stage with id "${id}"`);
  return s;
}
