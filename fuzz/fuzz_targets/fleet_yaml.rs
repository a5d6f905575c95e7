//! The fleet loader (YAML → model, with anchors, aliases and deep nesting) and the render of
//! what loads: one file of the example fleet replaced or added by the input.

#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

/// Where the input goes, chosen by its first byte.
const PATHS: [&str; 8] = [
    "fleet.yaml",
    "clusters/prod-eu-1.yaml",
    "clusters/new.yaml",
    "inventory/prod-us-1.yaml",
    "modules/ingress-nginx.yaml",
    "modules/new.yaml",
    "values/ingress-common.yaml",
    "values/new.yaml",
];

fuzz_target!(|data: &[u8]| common::as_the_binary(|| run(data)));

fn run(data: &[u8]) {
    let Some((&which, text)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let mut files = common::example_files().clone();
    files.insert(PATHS[usize::from(which) % PATHS.len()], text);
    let fleet = match fleeet::load::load(&files) {
        Ok(fleet) => fleet,
        Err(diagnostics) => {
            assert!(!diagnostics.is_empty(), "a failure says what failed");
            let _ = diagnostics.to_string();
            return;
        }
    };
    let env = fleeet::template::sandbox();
    let renderer = match fleeet::render::Renderer::new(&fleet, &env) {
        Ok(renderer) => renderer,
        Err(diagnostics) => {
            let _ = diagnostics.to_string();
            return;
        }
    };
    match renderer.render_all() {
        Ok(rendered) => {
            let files = fleeet::layout::files(&rendered, &fleet.spec.output.path.value);
            // What fleeet writes it can read back.
            let branch = fleeet::layout::parse(&files, &fleet.spec.output.path.value, &rendered);
            assert!(branch.problems.is_empty(), "{:?}", branch.problems);
            assert_eq!(branch.pointers.clusters.len(), rendered.clusters.len());
        }
        Err(diagnostics) => {
            let _ = diagnostics.to_string();
        }
    }
}
