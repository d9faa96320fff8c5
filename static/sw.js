/* Steadfast's service worker: the logging page opens with no network.
 *
 * It keeps two kinds of thing, in one cache, and nothing else:
 * - the static files (stylesheet, script, manifest, icons);
 * - the logging page `/log` as last loaded by the signed-in member (their pupils, with
 *   fresh one-tap forms; the page's script queues taps on the device, as always).
 * Each is asked of the network first and kept when it answers; with no network, the copy
 * kept is shown. No other page is kept. The cache is emptied when the member signs out,
 * and the kept page is dropped when `/log` answers with a redirect (the session ended).
 */
'use strict';

var CACHE = 'steadfast-v1';
var LIST = '/log';
var STATIC = [
  '/static/style.css',
  '/static/log.js',
  '/manifest.webmanifest',
  '/static/icons/icon.svg',
  '/static/icons/icon-192.png',
  '/static/icons/icon-512.png'
];

self.addEventListener('install', function (event) {
  event.waitUntil(
    caches.open(CACHE)
      .then(function (cache) { return cache.addAll(STATIC); })
      .then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener('activate', function (event) {
  event.waitUntil(
    caches.keys()
      .then(function (names) {
        return Promise.all(names.filter(function (name) { return name !== CACHE; })
          .map(function (name) { return caches.delete(name); }));
      })
      .then(function () { return self.clients.claim(); })
  );
});

/** Asks the network; keeps a good answer under `key` (when `keep`), forgets the page on a redirect. */
function fromNetwork(request, key, keep) {
  return fetch(request).then(function (response) {
    if (response.type === 'opaqueredirect' || response.redirected) {
      if (key === LIST) caches.open(CACHE).then(function (cache) { return cache.delete(LIST); });
    } else if (response.ok && keep) {
      var copy = response.clone();
      caches.open(CACHE).then(function (cache) { return cache.put(key, copy); });
    }
    return response;
  });
}

self.addEventListener('fetch', function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.method === 'POST' && url.pathname === '/logout') {
    event.waitUntil(caches.delete(CACHE)); // the network signs out as usual
    return;
  }
  if (request.method !== 'GET') return;
  var key = null;
  var keep = true;
  if (url.pathname === LIST && request.mode === 'navigate') {
    key = LIST;
    keep = url.search === ''; // a search or a confirmation is shown, never kept
  } else if (STATIC.indexOf(url.pathname) !== -1) {
    key = url.pathname;
  }
  if (!key) return; // every other page and answer: the network only
  event.respondWith(
    fromNetwork(request, key, keep).catch(function () {
      return caches.match(key).then(function (kept) { return kept || Response.error(); });
    })
  );
});
