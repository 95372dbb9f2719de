//! `purger-wasm-split INPUT OUT_DIR NAME` (or `--version`): splits the WASM that rustc linked with
//! `--emit-relocs` at its `#[lazy]` split points (the dashboard's lazy routes). It writes
//! `OUT_DIR/NAME_split.wasm`, the main module for wasm-bindgen; one `.wasm` per lazily loaded
//! part; the loader `__wasm_split.______________________.js` (the name Leptos' hydration
//! scripts expect); and `__wasm_split_manifest.json`, from which the server adds preload links
//! for the parts of the page it renders, so they load beside the main module instead of after it.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--version") {
        println!("purger-wasm-split {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let [input, out_dir, name] = args.as_slice() else {
        eprintln!("usage: purger-wasm-split INPUT OUT_DIR NAME");
        return ExitCode::from(2);
    };
    match split(input, &PathBuf::from(out_dir), name) {
        Ok(parts) => {
            eprintln!("split {input} into the main module and {parts} lazily loaded parts");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("purger-wasm-split: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Splits `input` into `out_dir`; how many parts besides the main module it wrote.
fn split(input: &str, out_dir: &std::path::Path, name: &str) -> Result<usize, String> {
    let wasm = std::fs::read(input).map_err(|e| format!("reading {input}: {e}"))?;
    let main_out = out_dir.join(format!("{name}_split.wasm"));
    let main_module = format!("./{name}.js");
    let split = wasm_split_cli_support::transform({
        let mut options = wasm_split_cli_support::Options::new(&wasm);
        options.output_dir = out_dir;
        options.main_out_path = &main_out;
        options.main_module = &main_module;
        options.link_name = "./__wasm_split.______________________.js";
        options
    })
    .map_err(|e| format!("splitting {input}: {e:#}"))?;
    let manifest = serde_json::to_string_pretty(&split.prefetch_map)
        .map_err(|e| format!("writing the manifest: {e}"))?;
    let manifest_path = out_dir.join("__wasm_split_manifest.json");
    std::fs::write(&manifest_path, manifest)
        .map_err(|e| format!("writing {}: {e}", manifest_path.display()))?;
    Ok(split.split_modules.len())
}
