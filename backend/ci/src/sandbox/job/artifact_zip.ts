/**
 * The build's deployable: a real zip (yazl) with a few files, among them
 * `appsettings.json`, whose SHA-256 and size artifact.json records.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, readFileSync } from 'node:fs';
import yazl from 'yazl';

export interface ZipInfo {
  sha256: string;
  bytes: number;
}

export interface AppFiles {
  commit: string;
  branch: string;
  version: string;
  /** Environment the appsettings are transformed for (null: the untransformed base). */
  env: string | null;
}

function appsettings(f: AppFiles): string {
  const base = {
    Logging: { LogLevel: { Default: 'Information', 'Microsoft.AspNetCore': 'Warning' } },
    AllowedHosts: '*',
    Environment: f.env ?? 'Production',
    // Never inline secrets: the connection string is resolved from the server's secure store at run time.
    ConnectionStrings: { WeSignDb: '${secret:WeSignDb}' },
    WeSign: { Version: f.version, Commit: f.commit },
  };
  if (f.env) {
    base.Logging.LogLevel.Default = 'Debug';
    Object.assign(base, { Urls: 'http://+:80', Features: { Diagnostics: true } });
  }
  return `${JSON.stringify(base, null, 2)}\n`;
}

export async function writeAppZip(file: string, f: AppFiles): Promise<ZipInfo> {
  const zip = new yazl.ZipFile();
  const mtime = new Date();
  zip.addBuffer(Buffer.from(appsettings(f)), 'appsettings.json', { mtime });
  zip.addBuffer(Buffer.from(`{\n  "Environment": "${f.env ?? 'Production'}"\n}\n`), `appsettings.${f.env ?? 'Production'}.json`, { mtime });
  zip.addBuffer(
    Buffer.from('<?xml version="1.0" encoding="utf-8"?>\n<configuration>\n  <system.webServer>\n    <handlers><add name="aspNetCore" path="*" verb="*" modules="AspNetCoreModuleV2" /></handlers>\n    <aspNetCore processPath="dotnet" arguments=".\\WeSign.UserApi.dll" hostingModel="inprocess" />\n  </system.webServer>\n</configuration>\n'),
    'web.config',
    { mtime },
  );
  zip.addBuffer(Buffer.from(`MZ\x90\x00 fake WeSign.UserApi.dll built from ${f.commit} (sandbox)\n`), 'WeSign.UserApi.dll', { mtime });
  zip.addBuffer(Buffer.from(`<!doctype html><title>WeSign</title><p>WeSign ${f.version}</p>\n`), 'wwwroot/index.html', { mtime });
  zip.addBuffer(Buffer.from(`${JSON.stringify({ version: f.version, commit: f.commit, branch: f.branch }, null, 2)}\n`), 'version.json', { mtime });
  zip.end();
  await new Promise<void>((resolve, reject) => {
    const out = createWriteStream(file);
    out.on('close', () => resolve());
    out.on('error', reject);
    zip.outputStream.on('error', reject).pipe(out);
  });
  const data = readFileSync(file);
  return { sha256: createHash('sha256').update(data).digest('hex'), bytes: data.length };
}
