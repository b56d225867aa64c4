/**
 * Jenkins-looking HTML bodies for errors and plain pages. Clients must not parse
 * error bodies (reference §10), but a human opening the URL should recognise them.
 */

export const escapeHtml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function page(title: string, body: string): string {
  return (
    '<!DOCTYPE html><html><head resURL="/static/sandbox" data-rooturl="" data-resurl="/static/sandbox">' +
    `<title>${escapeHtml(title)} [Jenkins]</title></head><body id="jenkins" class="yui-skin-sam">` +
    `<div id="page-body"><div id="main-panel">${body}</div></div>` +
    '<footer><p>Jenkins-compatible sandbox (QA Intelligence CI/CD) — not a real Jenkins.</p></footer></body></html>\n'
  );
}

export function errorPage(status: number, message: string): string {
  const titles: Record<number, string> = {
    400: 'Bad Request',
    403: 'Access Denied',
    404: 'Not Found',
    405: 'Method Not Allowed',
    409: 'Conflict',
    500: 'Oops!',
    502: 'Bad Gateway',
    503: 'Service Unavailable',
  };
  const title = titles[status] ?? `Error ${status}`;
  return page(`${title}`, `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p>`);
}

/** The HTML "Oops" page Jenkins shows for an uncaught exception (an invalid choice, a bad `start`…). */
export function oopsPage(exceptionClass: string, message: string): string {
  return page(
    'Jenkins',
    '<h1 style="text-align: center">Oops!</h1><div id="error-description"><h2>A problem occurred while processing the request</h2>' +
      `<pre>${escapeHtml(`${exceptionClass}: ${message}`)}\n\tat org.kohsuke.stapler.Stapler.invoke(Stapler.java)</pre></div>`,
  );
}

export function authRequiredPage(): string {
  return page(
    'Authentication required',
    '<h1>Authentication required</h1><p>You are authenticated as: anonymous</p>' +
      '<p>Groups that you are in:</p><p>Permission you need to have (but didn\'t): hudson.model.Hudson.Read</p>',
  );
}

/** The "retry with POST" page of @RequirePOST URLs (CORE CrumbFilter/retry.jelly). */
export function retryWithPostPage(): string {
  return page(
    'This URL requires POST',
    '<h1>This URL requires POST</h1><p>The URL you\'re trying to access requires that requests be sent using POST (like a form submission).</p>' +
      '<form method="POST"><input type="submit" value="Proceed"/></form>',
  );
}
