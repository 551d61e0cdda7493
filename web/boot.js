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
// 4. The runtime worker (which holds the keys) cannot be started with `integrity`: its files are checked
//    by the service worker, which precaches them against their hashes and serves them. The app starts
//    the worker once `window.candadoWorkerGate` resolves: at once when the service worker already
//    controls the page, on a first visit once it has installed and taken the page, and at once (with no
//    check possible) where there is no service worker. It rejects when the install failed (a file did
//    not match its hash, or its download was cut): then the worker is not started at all.

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

// Whether a service worker controlled this page when it loaded (see step 4).
let hadController = "serviceWorker" in navigator && navigator.serviceWorker.controller !== null;
let openGate;
let closeGate;
window.candadoWorkerGate = new Promise((resolve, reject) => {
  openGate = resolve;
  closeGate = reject;
});
if (hadController || !("serviceWorker" in navigator)) {
  openGate();
}

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
        if (!hadController) {
          // The first version took this page (first visit): the runtime worker may start.
          hadController = true;
          openGate();
          return;
        }
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
          if (worker.state === "redundant" && !hadController) {
            closeGate(new Error("the app's files could not be checked"));
          }
        });
      };
      if (!hadController) {
        if (navigator.serviceWorker.controller) {
          // Taken between the page's start and here.
          hadController = true;
          openGate();
        } else if (!registration.installing || registration.active) {
          // Not a first install (a hard reload bypassed the service worker, or a new version
          // activates without taking this page): nothing will take this page, so the worker's
          // files load unchecked, as they would without a service worker.
          openGate();
        }
      }
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
      // No service worker (private mode, an old browser): the app still runs, just not offline,
      // and the runtime worker's files load unchecked, as any script's would.
      openGate();
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
