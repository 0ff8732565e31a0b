/// <reference types="@fastly/js-compute" />
// A small edge app, tested with witshim/test in app.test.ts: it greets from a config store,
// proxies /api/* to the `api` backend with a token from a secret store, asks a dynamic backend
// for the weather, and logs every request to the `events` log endpoint.
import { Backend } from 'fastly:backend';
import { ConfigStore } from 'fastly:config-store';
import { Logger } from 'fastly:logger';
import { SecretStore } from 'fastly:secret-store';

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

  return new Response('not found\n', { status: 404 });
}

addEventListener('fetch', (event) => event.respondWith(handle(event.request)));
