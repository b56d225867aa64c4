// Minimal types for the two test-only SMTP packages (they ship none and no
// @types package is installed): just what the notifier tests use.
declare module 'smtp-server' {
  import type { Readable } from 'node:stream';
  import type { AddressInfo } from 'node:net';
  export interface SMTPServerSession {
    id: string;
    user?: string;
  }
  export interface SMTPServerAuthentication {
    method: string;
    username?: string;
    password?: string;
  }
  export interface SMTPServerAddress {
    address: string;
  }
  export type SMTPError = Error & { responseCode?: number };
  export interface SMTPServerOptions {
    authOptional?: boolean;
    allowInsecureAuth?: boolean;
    disabledCommands?: string[];
    logger?: boolean;
    onAuth?(auth: SMTPServerAuthentication, session: SMTPServerSession, cb: (err: SMTPError | null, res?: { user: string }) => void): void;
    onRcptTo?(address: SMTPServerAddress, session: SMTPServerSession, cb: (err?: SMTPError | null) => void): void;
    onData?(stream: Readable, session: SMTPServerSession, cb: (err?: SMTPError | null) => void): void;
  }
  export class SMTPServer {
    constructor(options: SMTPServerOptions);
    listen(port: number, host: string, cb?: () => void): void;
    close(cb?: () => void): void;
    server: { address(): AddressInfo | string | null };
  }
}

declare module 'mailparser' {
  import type { Readable } from 'node:stream';
  export interface ParsedMail {
    subject?: string;
    text?: string;
    html?: string | false;
    from?: { text: string };
    to?: { text: string } | Array<{ text: string }>;
  }
  export function simpleParser(source: Readable | Buffer | string): Promise<ParsedMail>;
}
