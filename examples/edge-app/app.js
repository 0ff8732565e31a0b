/// <reference types="@fastly/js-compute" />
// A small edge app, tested with witshim/test in app.test.ts: it greets from a config store,
// proxies /api/* to the `api` backend with a token from a secret store, asks a dynamic backend
// for the weather, reads and writes notes in the `notes` KV store, serves /pages/* from the
// `origin` backend through the core cache, and logs every request to the `events` log endpoint.
import { Backend } from 'fastly:backend';
import { CoreCache } from 'fastly:cache';
import { ConfigStore } from 'fastly:config-store';
import { KVStore } from 'fastly:kv-store';
import { Logger } from 'fastly:logger';
import { SecretStore } from 'fastly:secret-store';

/** How long a page stays fresh in the core cache (ms). */
const PAGE_MAX_AGE_MS = 60_000;

async function handle(request) {
  const url = new URL(request.url);
  const events = new Logger('events');
  events.log(`${request.method} ${url.pathname}`);

  if (url.pathname === '/') {
    const greeting = new ConfigStore('settings').get('greeting') ?? 'hello';
    return new Response(`${greeting}\n`, { headers: { 'content-type': 'text/plain' } });
  }

  if (url.pathname.startsWith('/api/')) {
    const token = await new SecretStore('credentials').get('api-token');
    const upstream = new Request(`https://api.example.com${url.pathname.slice('/api'.length)}${url.search}`, request);
    upstream.headers.set('authorization', `Bearer ${token?.plaintext() ?? ''}`);
    const answer = await fetch(upstream, { backend: 'api' });
    events.log(`api answered ${answer.status}`);
    const response = new Response(answer.body, answer);
    response.headers.set('x-served-by', 'edge-app');
    return response;
  }

  if (url.pathname === '/weather') {
    const backend = new Backend({ name: 'weather', target: 'weather.example.net' });
    const answer = await fetch('http://weather.example.net/today', { backend });
    console.log(`weather answered ${answer.status}`);
    return new Response(`today: ${await answer.text()}\n`, { headers: { 'content-type': 'text/plain' } });
  }

  if (url.pathname.startsWith('/notes/')) {
    const key = url.pathname.slice('/notes/'.length);
    const notes = new KVStore('notes');
    if (request.method === 'PUT') {
      await notes.put(key, await request.text(), { metadata: JSON.stringify({ by: request.headers.get('x-user') ?? 'anonymous' }) });
      events.log(`stored note ${key}`);
      return new Response(null, { status: 204 });
    }
    const note = await notes.get(key);
    if (note === null) return new Response('no such note\n', { status: 404 });
    return new Response(await note.text(), { headers: { 'content-type': 'text/plain', 'x-note-metadata': note.metadataText() ?? '' } });
  }

  if (url.pathname.startsWith('/pages/')) {
    const name = url.pathname.slice('/pages/'.length);
    const key = `page:${name}`;
    const cached = CoreCache.lookup(key);
    if (cached) {
      events.log(`cache hit ${key}`);
      return new Response(cached.body(), { headers: { 'content-type': 'text/html', 'x-cache': 'HIT' } });
    }
    const answer = await fetch(`https://origin.example.com/pages/${name}`, { backend: 'origin' });
    const page = await answer.text();
    const writer = CoreCache.insert(key, { maxAge: PAGE_MAX_AGE_MS, surrogateKeys: ['pages', `page-${name}`] });
    writer.append(page);
    writer.close();
    events.log(`cache miss ${key}`);
    return new Response(page, { headers: { 'content-type': 'text/html', 'x-cache': 'MISS' } });
  }

  return new Response('not found\n', { status: 404 });
}

addEventListener('fetch', (event) => event.respondWith(handle(event.request)));
