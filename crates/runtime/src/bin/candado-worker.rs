//! The worker binary Trunk builds (`data-type="worker"`); see the crate docs.

fn main() {
    #[cfg(target_arch = "wasm32")]
    candado_runtime::candado_worker_start();
}
