//! Live task progress: the browser subscribes to `/events` (server-sent events) and keeps the
//! latest counters per task.

use std::collections::HashMap;

use leptos::prelude::*;
use serde::Deserialize;

/// The latest progress of one task.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct LiveProgress {
    /// Task id.
    pub task_id: String,
    /// Status.
    pub status: String,
    /// Nodes.
    pub total: u32,
    /// Confirmed.
    pub success: u32,
    /// Failed.
    pub failed: u32,
}

/// Subscribes (in the browser only) and returns the progress seen so far, by task id.
pub fn use_live_progress() -> ReadSignal<HashMap<String, LiveProgress>> {
    let (progress, set_progress) = signal(HashMap::<String, LiveProgress>::new());
    Effect::new(move |_| {
        use wasm_bindgen::closure::Closure;
        use wasm_bindgen::JsCast;

        let Ok(source) = web_sys::EventSource::new("/events") else {
            return;
        };
        let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
            move |event: web_sys::MessageEvent| {
                let Some(text) = event.data().as_string() else {
                    return;
                };
                if let Ok(update) = serde_json::from_str::<LiveProgress>(&text) {
                    set_progress.update(|all| {
                        all.insert(update.task_id.clone(), update);
                    });
                }
            },
        );
        source.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        on_message.forget();
        let source = send_wrapper::SendWrapper::new(source);
        on_cleanup(move || source.close());
    });
    progress
}
