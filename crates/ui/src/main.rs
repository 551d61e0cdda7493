//! Entry point of the page: see [`candado_ui`].

fn main() {
    #[cfg(target_arch = "wasm32")]
    candado_ui::start();
}
