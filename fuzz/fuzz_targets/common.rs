//! What the targets share: the example fleet, loaded once, and a splitter of one input into
//! several strings.

#![allow(dead_code)] // each target uses part of this

use std::sync::OnceLock;

use fleeet::load::FleetFiles;
use fleeet::model::Fleet;
use fleeet::render::{Rendered, Renderer};

/// The stack the `fleeet` binary gives its command thread and rayon's workers (see its
/// `main.rs`): deeply nested template values need it.
const STACK: usize = 64 * 1024 * 1024;

/// Runs `f` as the binary runs a command: on a thread with the binary's stack, with rayon's
/// workers given the same.
pub fn as_the_binary<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    static POOL: OnceLock<()> = OnceLock::new();
    POOL.get_or_init(|| {
        let _ = rayon::ThreadPoolBuilder::new()
            .stack_size(STACK)
            .build_global();
    });
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(STACK)
            .spawn_scoped(scope, f)
            .expect("a thread")
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// The files of the example fleet shipped with fleeet.
pub fn example_files() -> &'static FleetFiles {
    static FILES: OnceLock<FleetFiles> = OnceLock::new();
    FILES.get_or_init(|| {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../example-fleet-repo");
        FleetFiles::read_dir(std::path::Path::new(root)).expect("the example fleet reads")
    })
}

/// The example fleet, its renderer, and its desired render.
pub fn example() -> &'static (Renderer<'static>, Rendered) {
    static EXAMPLE: OnceLock<(Renderer<'static>, Rendered)> = OnceLock::new();
    EXAMPLE.get_or_init(|| {
        let fleet: &'static Fleet = Box::leak(Box::new(
            fleeet::load::load(example_files()).expect("loads"),
        ));
        let env = Box::leak(Box::new(fleeet::template::sandbox()));
        let renderer = Renderer::new(fleet, env).expect("compiles");
        let rendered = renderer.render_all().expect("renders");
        (renderer, rendered)
    })
}

/// `data` as UTF-8 text split at NUL bytes.
pub fn parts(data: &[u8]) -> Option<Vec<&str>> {
    Some(std::str::from_utf8(data).ok()?.split('\0').collect())
}
