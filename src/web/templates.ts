// The EJS templates in views/: compiled once and cached, rendered without a `with` block (V8 runs it
// several times slower: the locals are declared instead), escaped by EJS's rule with a fast path
// for text without & < > " '.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ejs from 'ejs';
import type express from 'express';
import { cellClass } from './page-view.ts';

export const VIEWS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../views');

/** Every name the templates in views/ use (EJS declares them from the locals). */
const TEMPLATE_LOCALS = ['view', 'who', 'etag', 'signInEnabled', 'cellClass', 'id', 'table', 'empty', 'pager', 'title', 'message', 'enabled', 'role', 'signedIn', 'viewersOnly', 'next', 'error'];

const HTML_SPECIAL = /[&<>"']/;
const HTML_ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;', "'": '&#39;' };

export function escapeHtml(value: unknown): string {
  const text = value === undefined || value === null ? '' : String(value);
  return HTML_SPECIAL.test(text) ? text.replace(/[&<>"']/g, (c) => HTML_ENTITIES[c]!) : text;
}

/** Sets `app` up to render views/*.ejs; returns a render function that resolves to the HTML. */
export function useTemplates(app: express.Express): (view: string, locals: object) => Promise<string> {
  app.set('views', VIEWS_DIR);
  app.set('view engine', 'ejs');
  app.engine('ejs', (file, locals, done) => {
    const options = { cache: true, escape: escapeHtml, _with: false, destructuredLocals: TEMPLATE_LOCALS, async: true };
    ejs.renderFile(file, { ...locals, cellClass }, options).then((html) => done(null, html), done);
  });
  return (view, locals) => new Promise<string>((resolve, reject) => {
    app.render(view, locals, (err, html) => (err ? reject(err) : resolve(html!)));
  });
}
