// Candado's boot script. `cargo xtask dist` copies it into dist/ under a hashed name, filling in the
// placeholders below, and index.html loads it with an `integrity` attribute: the Content-Security-Policy
// allows no inline script, so this replaces the inline one Trunk writes.
//
// 1. Without WebAssembly (iOS Lockdown Mode, Tor Browser "Safer"), show the static #no-wasm page and stop.
// 2. Register the service worker (sw.js). When a new version is installed and waiting, tell the app
//    (event `candado:update-waiting`, attribute `data-update="waiting"` on <html>); only when the person
//    chooses "Reload" (event `candado:update-accept`) does the waiting worker take over, then the page
//    reloads. Code is never swapped under an open page.
// 3. Start the app: its JS was preloaded with `integrity` (modulepreload), and its wasm is fetched with
//    `integrity`, so a modified file is refused.

const APP_JS = "__APP_JS__";
const APP_WASM = "__APP_WASM__";
const APP_WASM_INTEGRITY = "__APP_WASM_INTEGRITY__";

function showNoWasm() {
  const page = document.getElementById("no-wasm");
  if (page) {
    page.hidden = false;
  }
}

// Set when the person chose "Reload" in this page.
let accepted = false;

function announceUpdate(registration) {
  if (document.documentElement.getAttribute("data-update") === "waiting") {
    return;
  }
  document.documentElement.setAttribute("data-update", "waiting");
  window.dispatchEvent(new CustomEvent("candado:update-waiting"));
  window.addEventListener("candado:update-accept", () => {
    accepted = true;
    const waiting = registration.waiting;
    if (waiting) {
      waiting.postMessage({ type: "skip-waiting" });
    } else {
      // Another page of the app already took the new version: this one only needs a reload.
      window.location.reload();
    }
  });
}

function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) {
    return;
  }
  navigator.serviceWorker
    .register("/sw.js", { scope: "/", updateViaCache: "none" })
    .then((registration) => {
      // The new version took over: reload this page if the person asked for it here; otherwise
      // (another page of the app asked) offer the same choice.
      navigator.serviceWorker.addEventListener("controllerchange", () => {
        if (accepted) {
          window.location.reload();
        } else {
          announceUpdate(registration);
        }
      });
      const watch = (worker) => {
        worker.addEventListener("statechange", () => {
          if (worker.state === "installed" && navigator.serviceWorker.controller) {
            announceUpdate(registration);
          }
        });
      };
      if (registration.waiting && navigator.serviceWorker.controller) {
        announceUpdate(registration);
      }
      if (registration.installing) {
        watch(registration.installing);
      }
      registration.addEventListener("updatefound", () => {
        if (registration.installing) {
          watch(registration.installing);
        }
      });
      // Look for a new release whenever the page comes back to the foreground.
      document.addEventListener("visibilitychange", () => {
        if (document.visibilityState === "visible") {
          registration.update().catch(() => {});
        }
      });
    })
    .catch(() => {
      // No service worker (private mode, an old browser): the app still runs, just not offline.
    });
}

if (typeof WebAssembly !== "object" || typeof WebAssembly.instantiate !== "function") {
  showNoWasm();
} else {
  registerServiceWorker();
  try {
    const app = await import(APP_JS);
    await app.default({
      module_or_path: fetch(APP_WASM, { integrity: APP_WASM_INTEGRITY }),
    });
  } catch (error) {
    // WebAssembly present but refused (a policy, a compile error): explain instead of a blank page.
    if (error instanceof WebAssembly.CompileError || error instanceof WebAssembly.LinkError) {
      showNoWasm();
    }
    throw error;
  }
}
