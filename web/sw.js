// Candado's service worker. `cargo xtask dist` copies it into dist/sw.js, filling in VERSION (a hash of
// every precached file) and PRECACHE (each file of the app shell with its SHA-384), so every release has
// a different sw.js and the browser installs it as an update.
//
// - install: fetches every file of the shell with `integrity` into a cache named after the version; a
//   file that does not match its hash fails the install, and the running version stays.
// - the new version then waits: it takes over only when a page asks (message `skip-waiting`, sent when the
//   person chooses "Reload"), or once no page of the app is open. Code is never swapped under a page.
// - activate: deletes the caches of older versions; the first version also takes the open page
//   (clients.claim), whose runtime worker waits for it.
// - fetch: the shell comes from the cache (offline start); `config.json` from the network, falling back
//   to the last copy; nothing else is intercepted (the XMPP WebSocket never passes through here).

const VERSION = "__VERSION__";
const PRECACHE = __PRECACHE__;
const CACHE = "candado-shell-" + VERSION;
const CONFIG_CACHE = "candado-config";

const scoped = (path) => new URL(path, self.registration.scope).href;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) =>
      Promise.all(
        PRECACHE.map(([path, integrity]) =>
          fetch(new Request(scoped(path), { integrity })).then((response) => {
            if (!response.ok) {
              throw new Error("precache " + path + ": HTTP " + response.status);
            }
            return cache.put(scoped(path), response);
          }),
        ),
      ),
    ),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys().then(async (keys) => {
      const older = keys.filter((key) => key.startsWith("candado-shell-") && key !== CACHE);
      await Promise.all(older.map((key) => caches.delete(key)));
      // The first version takes the page that installed it at once: the page starts its runtime
      // worker only then, so the worker's files come from this cache, checked against their
      // hashes, even on the first visit. An update never takes an open page (see above).
      if (older.length === 0) {
        await self.clients.claim();
      }
    }),
  );
});

self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "skip-waiting") {
    self.skipWaiting();
  }
});

async function fromShell(request) {
  const cache = await caches.open(CACHE);
  const hit = await cache.match(request, { ignoreSearch: true });
  return hit || fetch(request);
}

async function config(request) {
  const cache = await caches.open(CONFIG_CACHE);
  try {
    const response = await fetch(request);
    if (response.ok || response.status === 404) {
      await cache.put(request, response.clone());
    }
    return response;
  } catch (error) {
    const hit = await cache.match(request);
    if (hit) {
      return hit;
    }
    throw error;
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") {
    return;
  }
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) {
    return;
  }
  if (request.mode === "navigate") {
    event.respondWith(fromShell(scoped("./index.html")));
  } else if (url.href === scoped("./config.json")) {
    event.respondWith(config(request));
  } else if (PRECACHE.some(([path]) => scoped(path) === url.href)) {
    event.respondWith(fromShell(request));
  }
});
