//! Hydrates the server-rendered dashboard in the browser.

/// Called by the generated JS once the WASM module is loaded.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Asynchronously: the page a lazy route shows may have to load its WASM part first.
    leptos::mount::hydrate_lazy(app::App);
}
