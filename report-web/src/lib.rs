//! report-web: a static viewer for tenancy reports (scan findings, the verify matrix, and the
//! before/after diff of two reports), built with Yew for wasm32 by `cargo xtask report`.
//!
//! - [`model`]: the view logic — parsing, filters, sorting, the per-table view, the diff, share
//!   links — plain Rust, tested natively.
//! - `app` (wasm32 only): the Yew components and the browser glue (file picker, drag and drop,
//!   `?src=URL`, `#r=` share links).

pub mod model;

#[cfg(target_arch = "wasm32")]
mod app;

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn start() {
    yew::Renderer::<app::App>::new().render();
}
